//! Media attachments: global, in the default source.

use diesel::dsl::now;
use diesel::prelude::*;

use crate::Connection;
use crate::models::{MediaAttachment, MediaAttachmentUpdate, NewMediaAttachment};
use crate::queries::update;
use crate::schema::media_attachments as media;

/// Records a new media attachment; one already recorded under `file_unique_id` is an error, and
/// nothing is written.
#[multisource::write(global)]
pub fn add_media_attachment(
    conn: &mut Connection,
    file_unique_id: &str,
    file_id: &str,
    attachment: &NewMediaAttachment<'_>,
) -> QueryResult<()> {
    diesel::insert_into(media::table)
        .values((
            media::file_unique_id.eq(file_unique_id),
            media::file_id.eq(file_id),
            media::file_size.eq(attachment.file_size),
            media::media_type.eq(attachment.media_type.as_str()),
            media::metadata.eq(attachment.metadata),
            media::status.eq(attachment.status),
            media::mime_type.eq(attachment.mime_type),
            media::local_url.eq(attachment.local_url),
            media::prompt.eq(attachment.prompt),
            media::description.eq(attachment.description),
        ))
        .execute(conn)
        .map(drop)
}

/// Changes the fields of `changes` that are `Some`, and `updated_at`; true when the attachment
/// exists. With every field `None`, only `updated_at` changes, as in the Python bot.
#[multisource::write(global)]
pub fn update_media_attachment(
    conn: &mut Connection,
    media_id: &str,
    changes: &MediaAttachmentUpdate<'_>,
) -> QueryResult<bool> {
    let target = media::table.filter(media::file_unique_id.eq(media_id));
    let changed = match *changes == MediaAttachmentUpdate::default() {
        true => update(target, media::updated_at.eq(now)).execute(conn)?,
        false => update(target, (changes, media::updated_at.eq(now))).execute(conn)?,
    };
    Ok(changed > 0)
}

/// The media attachment recorded under `media_id` (its `file_unique_id`).
#[multisource::read(global)]
pub fn get_media_attachment(
    conn: &mut Connection,
    media_id: &str,
) -> QueryResult<Option<MediaAttachment>> {
    media::table
        .filter(media::file_unique_id.eq(media_id))
        .select(MediaAttachment::as_select())
        .first(conn)
        .optional()
}
