//! Expansion snapshots: every annotation form, pretty-printed with `prettyplease`, in both modes.
//!
//! As diesel's `expand_with` does, the expansion is fixed up before it is printed, so that it
//! reads as code: the copies of a query that the expansion puts inside a kind's gate
//! (`::multisource::__private::__if_postgres! { items: ... }`, which keeps them only when
//! `multisource` is built with the kind) are shown as the items they are, under
//! `#[cfg(feature = "postgres")]` (`multisource`'s feature).

use quote::quote;

use crate::expand::Mode;
use multisource_macros_model::Kind;

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
    let mut file: syn::File = syn::parse2(out).expect("the expansion parses as a file");
    file.items = file.items.into_iter().flat_map(ungate).collect();
    let mut settings = insta::Settings::clone_current();
    settings.set_description(input);
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, prettyplease::unparse(&file)));
}

/// A kind's gate around items, as the items it keeps, under the kind's feature.
fn ungate(item: syn::Item) -> Vec<syn::Item> {
    let syn::Item::Macro(gated) = &item else { return vec![item] };
    let Some(kind) = multisource_macros_model::COPIES
        .iter()
        .find(|kind| gated.mac.path.segments.last().is_some_and(|s| s.ident == kind.gate))
    else {
        return vec![item];
    };
    let feature = match kind.tag {
        "pg" => "postgres",
        other => other,
    };
    let parse = |input: syn::parse::ParseStream<'_>| -> syn::Result<Vec<syn::Item>> {
        input.parse::<syn::Ident>()?;
        input.parse::<syn::Token![:]>()?;
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(input.parse()?);
        }
        Ok(items)
    };
    let mut items = syn::parse::Parser::parse2(parse, gated.mac.tokens.clone())
        .expect("a gate's input is `items:` and items");
    for item in &mut items {
        if let syn::Item::Mod(module) = item {
            module.attrs.insert(0, syn::parse_quote!(#[cfg(feature = #feature)]));
        }
    }
    items
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

#[test]
fn read_chat_cached() {
    check(
        Kind::Read,
        quote!(chat = chat_id, cached),
        quote! {
            /// The value of one chat setting.
            pub fn get_chat_setting(conn: &mut Connection, chat_id: i64, key: &str) -> QueryResult<Option<String>> {
                chat_settings::table.find((chat_id, key)).select(chat_settings::value).first(conn).optional().map(Option::flatten)
            }
        },
        Mode::Inherent,
        "read_chat_cached",
    );
}
