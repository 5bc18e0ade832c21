// `sqlx::migrate!` embeds the migration files at compile time but cannot tell cargo to watch
// the folders for new files: this does.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
