//! The safety plan: actions grouped as family, agency, disruption and positive
//! activities, each with an owner, a due date and a status; a review date for the plan.
//! Domain notes: `docs/domain/safety-plan.md`.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ObjType, ReadDoc, ROOT};

use crate::doc;
use crate::removal::{self, Removal};
use crate::schema::{self, Record};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Action {
    pub id: String,
    /// An id from [`crate::vocab::ACTION_GROUPS`].
    pub group: String,
    pub text: String,
    pub owner: String,
    /// ISO date, or empty.
    pub due: String,
    /// An id from [`crate::vocab::ACTION_STATUS`].
    pub status: String,
    pub removal: Option<Removal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafetyPlan {
    /// What is known about the exploitation and who is involved.
    pub known: String,
    /// ISO date of the next review, or empty.
    pub review: String,
    pub actions: Vec<Action>,
}

crate::schema::texts!(Action { "text" => text, "owner" => owner });
crate::schema::texts!(SafetyPlan { "known" => known });

pub fn read<D: ReadDoc>(d: &D) -> SafetyPlan {
    let plans = doc::all_objs(d, &ROOT, "plan", ObjType::Map);
    let mut actions: Vec<Action> = plans
        .iter()
        .flat_map(|p| doc::items(d, p, "actions"))
        .map(|a| {
            let mut action = Action {
                id: doc::text(d, &a, "id"),
                group: doc::text(d, &a, "group"),
                due: doc::text(d, &a, "due"),
                status: doc::text(d, &a, "status"),
                removal: removal::read(d, &a),
                ..Default::default()
            };
            schema::fill(d, std::slice::from_ref(&a), Record::Action, &mut action);
            action
        })
        .collect();
    fieldbook_sync::order::sort_by(&mut actions, |a, b| {
        (&a.group, &a.due, &a.id).cmp(&(&b.group, &b.due, &b.id))
    });
    let mut plan = SafetyPlan {
        review: plans
            .iter()
            .map(|p| doc::text(d, p, "review"))
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        actions,
        ..Default::default()
    };
    schema::fill(d, &plans, Record::Plan, &mut plan);
    plan
}

fn plan(tx: &mut impl Transactable) -> Result<ObjId, AutomergeError> {
    doc::ensure_obj(tx, &ROOT, "plan", ObjType::Map)
}

pub fn set_known(tx: &mut impl Transactable, text: &str) -> Result<(), AutomergeError> {
    set_text(tx, "known", text).map(|_| ())
}

/// Write a text field of the plan itself (a key from [`crate::schema::TEXT_FIELDS`]) into
/// every copy of the plan map; false for any other key.
pub fn set_text(
    tx: &mut impl Transactable,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    let mut plans = doc::all_objs(tx, &ROOT, "plan", ObjType::Map);
    if plans.is_empty() {
        plans.push(plan(tx)?);
    }
    schema::write_text(tx, &plans, Record::Plan, key, value)
}

pub fn set_review(tx: &mut impl Transactable, date: &str) -> Result<(), AutomergeError> {
    let p = plan(tx)?;
    tx.put(&p, "review", date)
}

pub fn add_action(tx: &mut impl Transactable, a: &Action) -> Result<(), AutomergeError> {
    let p = plan(tx)?;
    let item = doc::push_item(tx, &p, "actions", &a.id)?;
    tx.put(&item, "group", a.group.as_str())?;
    doc::set_text(tx, &item, "text", &a.text)?;
    doc::set_text(tx, &item, "owner", &a.owner)?;
    tx.put(&item, "due", a.due.as_str())?;
    tx.put(&item, "status", a.status.as_str())?;
    Ok(())
}

/// Which field of an action to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionField {
    Text,
    Owner,
    Due,
    Status,
}

/// Apply `f` to action `id`, in whichever copy of the plan holds it; false if none does.
fn on_action<T: Transactable>(
    tx: &mut T,
    id: &str,
    f: impl FnOnce(&mut T, &ObjId) -> Result<(), AutomergeError>,
) -> Result<bool, AutomergeError> {
    doc::on_item_in(tx, "plan", "actions", id, f)
}

pub fn set_action(
    tx: &mut impl Transactable,
    id: &str,
    field: ActionField,
    value: &str,
) -> Result<bool, AutomergeError> {
    let key = match field {
        ActionField::Text => return set_action_text(tx, id, "text", value),
        ActionField::Owner => return set_action_text(tx, id, "owner", value),
        ActionField::Due => "due",
        ActionField::Status => "status",
    };
    on_action(tx, id, |tx, a| {
        tx.put(a, key, value)?;
        removal::touch(tx, a)
    })
}

/// Write a text field of action `id` (a key from [`crate::schema::TEXT_FIELDS`]). False if
/// there is no such action or field.
pub fn set_action_text(
    tx: &mut impl Transactable,
    id: &str,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    if schema::field(Record::Action, key).is_none() {
        return Ok(false);
    }
    on_action(tx, id, |tx, a| {
        schema::write_text(tx, std::slice::from_ref(a), Record::Action, key, value)?;
        removal::touch(tx, a)
    })
}

pub fn remove_action(
    tx: &mut impl Transactable,
    id: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    on_action(tx, id, |tx, a| removal::remove(tx, a, by, at))
}

pub fn restore_action(tx: &mut impl Transactable, id: &str) -> Result<bool, AutomergeError> {
    on_action(tx, id, removal::restore)
}
