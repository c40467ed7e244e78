//! The task model: what the API accepts, validated once into typed values.

pub mod config;
pub(crate) mod config_secrets;
pub mod duration;
pub mod errors;
pub(crate) mod graphql;
pub mod input;
pub mod placeholder;
pub mod prepared;
pub(crate) mod shown;
pub mod validate;
