//! Versioned migrations for the directory tables. STUB.
