//! Tasks the bot runs later: global, in the default source.

use diesel::dsl::now;
use diesel::prelude::*;

use crate::Connection;
use crate::models::DelayedTask;
use crate::queries::update;
use crate::schema::delayed_tasks as tasks;

/// Records a task to run at `delayed_ts` (a Unix timestamp); a task id already recorded is an
/// error, and nothing is written.
#[multisource::write(global)]
pub fn add_delayed_task(
    conn: &mut Connection,
    task_id: &str,
    function: &str,
    kwargs: &str,
    delayed_ts: i64,
) -> QueryResult<()> {
    diesel::insert_into(tasks::table)
        .values((
            tasks::id.eq(task_id),
            tasks::function.eq(function),
            tasks::kwargs.eq(kwargs),
            tasks::delayed_ts.eq(delayed_ts),
        ))
        .execute(conn)
        .map(drop)
}

/// Marks the task done, or not; true when the task exists.
#[multisource::write(global)]
pub fn update_delayed_task(conn: &mut Connection, id: &str, is_done: bool) -> QueryResult<bool> {
    update(tasks::table.find(id), (tasks::is_done.eq(is_done), tasks::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
}

/// The tasks not done yet, soonest first (the Python method left the order to SQLite).
#[multisource::read(global)]
pub fn get_pending_delayed_tasks(conn: &mut Connection) -> QueryResult<Vec<DelayedTask>> {
    tasks::table
        .filter(tasks::is_done.eq(false))
        .order((tasks::delayed_ts, tasks::id))
        .select(DelayedTask::as_select())
        .load(conn)
}
