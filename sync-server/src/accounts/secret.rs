//! Secrets with a redacted `Debug`. STUB.
#[derive(Clone)]
pub struct Password(String);
#[derive(Clone)]
pub struct SessionToken(String);
#[derive(Clone)]
pub struct Ticket(String);

macro_rules! secret {
    ($t:ident) => {
        impl $t {
            pub fn new(s: String) -> Self {
                $t(s)
            }
            /// The secret itself: only for hashing, a cookie or a response body.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), "([redacted])"))
            }
        }
    };
}
secret!(Password);
secret!(SessionToken);
secret!(Ticket);
