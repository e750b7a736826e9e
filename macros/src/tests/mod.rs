//! Expansion snapshots: every annotation form, pretty-printed with `prettyplease`, in both modes.

use quote::quote;

use crate::expand::Mode;
use crate::model::Kind;

/// Expands `item` under `#[<kind>(<attr>)]` and compares the pretty-printed result with the
/// snapshot `name`; the input is stored in the snapshot's header.
#[track_caller]
fn check(
    kind: Kind,
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
    mode: Mode,
    name: &str,
) {
    let pretty: syn::File = syn::parse2(item.clone()).expect("the input parses as a file");
    let input = format!("#[{}({attr})]\n{}", kind.as_str(), prettyplease::unparse(&pretty));
    let out = crate::expand_inner(kind, attr, item, mode);
    let file: syn::File = syn::parse2(out).expect("the expansion parses as a file");
    let mut settings = insta::Settings::clone_current();
    settings.set_description(input);
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, prettyplease::unparse(&file)));
}

#[test]
fn read_chat() {
    check(
        Kind::Read,
        quote!(chat = chat_id),
        quote! {
            /// The value of one chat setting.
            pub fn get_chat_setting(conn: &mut Connection, chat_id: i64, key: &str) -> QueryResult<Option<String>> {
                chat_settings::table.find((chat_id, key)).select(chat_settings::value).first(conn).optional().map(Option::flatten)
            }
        },
        Mode::Inherent,
        "read_chat",
    );
}

#[test]
fn read_chat_second_parameter() {
    check(
        Kind::Read,
        quote!(chat = chat_id),
        quote! {
            pub fn get_user_data(conn: &mut Connection, user_id: i64, chat_id: i64) -> QueryResult<Vec<(String, String)>> {
                user_data::table.filter(user_data::user_id.eq(user_id).and(user_data::chat_id.eq(chat_id))).select((user_data::key, user_data::data)).load(conn)
            }
        },
        Mode::Inherent,
        "read_chat_second_parameter",
    );
}

#[test]
fn read_chat_expression() {
    check(
        Kind::Read,
        quote!(chat = message.chat_id),
        quote! {
            pub(crate) fn find(conn: &mut Connection, message: &Key) -> diesel::QueryResult<bool> {
                todo_query(conn, message)
            }
        },
        Mode::Inherent,
        "read_chat_expression",
    );
}

#[test]
fn read_global() {
    check(
        Kind::Read,
        quote!(global),
        quote! {
            pub fn get_setting(conn: &mut Connection, key: &str) -> QueryResult<Option<String>> {
                settings::table.find(key).select(settings::value).first(conn).optional().map(Option::flatten)
            }
        },
        Mode::Inherent,
        "read_global",
    );
}

#[test]
fn read_all_sources() {
    check(
        Kind::Read,
        quote!(all_sources, key = chat_id),
        quote! {
            /// The chats a user is in.
            pub fn get_user_chats(conn: &mut Connection, user_id: i64) -> QueryResult<Vec<ChatInfo>> {
                chats_of(conn, user_id)
            }
        },
        Mode::Inherent,
        "read_all_sources",
    );
}

#[test]
fn write_chat() {
    check(
        Kind::Write,
        quote!(chat = chat_id),
        quote! {
            pub fn set_chat_setting(conn: &mut Connection, chat_id: i64, key: &str, value: &str) -> QueryResult<()> {
                upsert(conn, chat_id, key, value)
            }
        },
        Mode::Inherent,
        "write_chat",
    );
}

#[test]
fn write_global() {
    check(
        Kind::Write,
        quote!(global),
        quote! {
            pub fn set_setting(conn: &mut Connection, key: &str, value: &str) -> QueryResult<()> {
                upsert(conn, key, value)
            }
        },
        Mode::Inherent,
        "write_global",
    );
}

#[test]
fn read_chat_extension() {
    check(
        Kind::Read,
        quote!(chat = chat_id),
        quote! {
            /// How many messages a chat has.
            pub fn count_messages(conn: &mut SqliteConnection, chat_id: i64) -> QueryResult<i64> {
                chat_messages::table.filter(chat_messages::chat_id.eq(chat_id)).count().get_result(conn)
            }
        },
        Mode::Extension,
        "read_chat_extension",
    );
}

#[test]
fn read_all_sources_extension() {
    check(
        Kind::Read,
        quote!(all_sources, key = info.chat_id),
        quote! {
            pub fn chats_named(conn: &mut SqliteConnection, title: &str) -> QueryResult<Vec<Named>> {
                load_named(conn, title)
            }
        },
        Mode::Extension,
        "read_all_sources_extension",
    );
}

#[test]
fn write_global_extension() {
    check(
        Kind::Write,
        quote!(global),
        quote! {
            fn forget<'a>(conn: &mut SqliteConnection, mut key: &'a str) -> QueryResult<usize> {
                delete(conn, key)
            }
        },
        Mode::Extension,
        "write_global_extension",
    );
}

#[test]
fn read_chat_finish() {
    check(
        Kind::Read,
        quote!(chat = chat_id, finish = attach_media),
        quote! {
            pub fn last_message(conn: &mut Connection, chat_id: i64) -> QueryResult<Option<ChatMessage>> {
                latest(conn, chat_id)
            }
        },
        Mode::Inherent,
        "read_chat_finish",
    );
}
