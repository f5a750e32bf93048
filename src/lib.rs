//! Sign-in with Logto for actix-web: the Logto client (`logto`, framework-free), the web
//! side (`web`), typed configuration (`config`) and server assembly (`startup`).

pub mod config;
pub mod logto;
pub mod startup;
pub mod web;
