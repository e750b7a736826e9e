//! `multisource::migrations!`: a bot's migration folders, embedded in its binary.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

/// `sqlite = "folder"` and, optionally, `postgres = "folder"`.
pub(crate) struct Folders {
    sqlite: LitStr,
    postgres: Option<LitStr>,
}

impl Parse for Folders {
    fn parse(input: ParseStream<'_>) -> syn::Result<Folders> {
        let (mut sqlite, mut postgres) = (None, None);
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let folder: LitStr = input.parse()?;
            let slot = match key.to_string().as_str() {
                "sqlite" => &mut sqlite,
                "postgres" => &mut postgres,
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "`{other}` is not a kind of source; write `sqlite = \"migrations\"` \
                             and, for PostgreSQL sources, `postgres = \"migrations-postgres\"`"
                        ),
                    ));
                }
            };
            if slot.replace(folder).is_some() {
                return Err(syn::Error::new(key.span(), format!("`{key}` is given twice")));
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let sqlite = sqlite.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "give the folder of the SQLite migrations: `multisource::migrations!(sqlite = \
                 \"migrations\")`, relative to the crate's `Cargo.toml`",
            )
        })?;
        Ok(Folders { sqlite, postgres })
    }
}

/// The `BotMigrations` of the folders, each migration's files included with `include_str!` so
/// that editing one rebuilds the crate.
pub(crate) fn expand(folders: Folders) -> syn::Result<TokenStream> {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    let sqlite = list(&root, &folders.sqlite)?;
    let postgres = match &folders.postgres {
        Some(folder) => {
            let list = list(&root, folder)?;
            quote!(::core::option::Option::Some(#list))
        }
        None => quote!(::core::option::Option::None),
    };
    Ok(quote! {
        ::multisource::BotMigrations { sqlite: #sqlite, postgres: #postgres }
    })
}

/// `&[BotMigration { .. }, ..]` of the migration folders in `folder`, by name.
fn list(root: &Path, folder: &LitStr) -> syn::Result<TokenStream> {
    let path = root.join(folder.value());
    let error = |message: String| syn::Error::new(folder.span(), message);
    let entries = std::fs::read_dir(&path)
        .map_err(|e| error(format!("cannot read the migrations folder {}: {e}", path.display())))?;
    let mut migrations = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| error(format!("cannot read {}: {e}", path.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        let up = entry.path().join("up.sql");
        if !up.is_file() {
            return Err(error(format!(
                "the migration folder {} has no `up.sql`; every migration needs one",
                entry.path().display()
            )));
        }
        let down = entry.path().join("down.sql");
        migrations.push((name, up, down.is_file().then_some(down)));
    }
    if migrations.is_empty() {
        return Err(error(format!(
            "the migrations folder {} holds no migration; add a folder such as \
             `2026-12-01-000001_create_reminders` with an `up.sql`",
            path.display()
        )));
    }
    migrations.sort();
    let items = migrations.iter().map(|(name, up, down)| {
        let up = up.display().to_string();
        let down = match down {
            Some(down) => {
                let down = down.display().to_string();
                quote!(::core::option::Option::Some(::core::include_str!(#down)))
            }
            None => quote!(::core::option::Option::None),
        };
        quote! {
            ::multisource::BotMigration { name: #name, up: ::core::include_str!(#up), down: #down }
        }
    });
    Ok(quote!(&[#(#items),*]))
}
