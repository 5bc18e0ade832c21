//! Accounts, administered: the rules for what an administrator enters — usernames, roles,
//! passwords, OAuth client names and scopes ([`input`]) — and the operations on users
//! ([`admin`]: add, disable, enable, roles, password, delete; rename in [`usernames`]), in one
//! place, so that the admin API (`/admin/api/…`) and the administration commands
//! (`tessera user …`, `tessera client add`) accept exactly the same and do the same.
//!
//! Usernames follow RFC 8265 (PRECIS, the UsernameCaseMapped profile): one normal form per
//! name, so that one person has one account and look-alikes cannot be created — see
//! [`normalize_username`]. Existing rows are brought to that form at startup
//! ([`reconcile_usernames`]), never merged: names that collide stop the start until an
//! operator runs `tessera user rename OLD NEW` ([`rename_user`]).
//!
//! ```
//! use tessera_server::accounts;
//! assert!(accounts::check_username("alice").is_ok());
//! assert!(accounts::check_username(" alice").is_err());
//! assert_eq!(accounts::normalize_username("ＡＬＩＣＥ").unwrap(), "alice");
//! assert_eq!(accounts::check_roles(&["admin".into(), "admin".into()]).unwrap(), ["admin"]);
//! assert!(accounts::check_password("short").is_ok());
//! assert!(accounts::check_new_password("short").is_err());
//! ```

pub mod admin;
pub mod input;
pub mod usernames;

pub use admin::{
    ADMIN_ROLE, Actor, AdminError, add_user, delete_user, set_disabled, set_password, set_roles,
};
pub use input::{
    InvalidInput, MAX_CLIENT_NAME_LEN, MAX_ROLE_LEN, MAX_USERNAME_LEN, MIN_PASSWORD_CHARS,
    check_client_name, check_new_password, check_password, check_roles, check_scopes,
    check_username, normalize_username,
};
pub use usernames::{
    UsernameError, UsernameReport, find_user, reconcile_usernames, rename_user, username_taken,
};
