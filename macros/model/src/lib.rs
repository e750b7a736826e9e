//! The model of an annotated query: what `#[read(...)]` or `#[write(...)]` and the function under
//! it say, parsed and checked. Every mistake becomes a `syn::Error` spanned on the offending
//! tokens, with a message that says the fix; all of them are reported at once.
//!
//! A plain library, so that the macro (`multisource-macros`) and `cargo xtask codegen` (which
//! lists the generated methods in `docs/API.md`) read annotations the same way; it depends only
//! on `syn`, `quote` and `proc-macro2`. Its API follows the macro's needs, not semver.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{
    Expr, FnArg, GenericArgument, Ident, ItemFn, Member, Pat, PathArguments, ReturnType, Token,
    Type,
};

/// Whether the query reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[read(...)]`.
    Read,
    /// `#[write(...)]`.
    Write,
}

impl Kind {
    /// `read` or `write`: the attribute's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
        }
    }
}

/// Where the query runs.
#[derive(Clone)]
pub enum Scope {
    /// On the chat's source: the expression gives the chat id.
    Chat(Expr),
    /// On the default source.
    Global,
    /// On every source, merged; rows are de-duplicated by the key, a field path of the row type.
    AllSources {
        /// The field that identifies a row across sources.
        key: Punctuated<Member, Token![.]>,
    },
}

/// One parameter of the query besides the connection.
#[derive(Clone)]
pub struct Param {
    /// Its name.
    pub ident: Ident,
    /// Its type, as written.
    pub ty: Type,
}

/// An annotated query, checked.
#[derive(Clone)]
pub struct Query {
    /// Read or write.
    pub kind: Kind,
    /// Where it runs.
    pub scope: Scope,
    /// The function as written; it is emitted unchanged.
    pub func: ItemFn,
    /// The parameters after the connection.
    pub params: Vec<Param>,
    /// `T` of `QueryResult<T>`.
    pub output: Type,
    /// For fan-out reads, the row type `R` of `QueryResult<Vec<R>>`.
    pub row: Option<Type>,
    /// For reads, a function the result goes through after the query, with the database:
    /// `fn(&Database, Option<i64>, Option<&str>, T) -> multisource::Result<T>`.
    pub finish: Option<syn::Path>,
    /// For reads of one chat or global reads: the answer may be kept in the source's read cache
    /// while nothing commits to the source.
    pub cached: bool,
}

/// Collects every error, so one compile shows them all.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

/// The options of the attribute, as written.
struct Options {
    chat: Option<(Ident, Expr)>,
    global: Option<Ident>,
    all_sources: Option<Ident>,
    key: Option<(Ident, Punctuated<Member, Token![.]>)>,
    source: Option<Ident>,
    finish: Option<(Ident, syn::Path)>,
    cached: Option<Ident>,
}

const READ_OPTIONS: &str = "`chat = <parameter>`, `global`, `all_sources`, `key = <field>`, \
                            `finish = <function>`, `cached`";
const WRITE_OPTIONS: &str = "`chat = <parameter>`, `global`";

fn parse_options(kind: Kind, attr: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options {
        chat: None,
        global: None,
        all_sources: None,
        key: None,
        source: None,
        finish: None,
        cached: None,
    };
    let parser = |input: ParseStream<'_>| -> syn::Result<()> {
        while !input.is_empty() {
            let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            parse_option(kind, name, input, &mut options, errors)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(attr) {
        errors.push(error);
    }
    options
}

/// Reads one option, `name` and what follows it, into `options`.
fn parse_option(
    kind: Kind,
    name: Ident,
    input: ParseStream<'_>,
    options: &mut Options,
    errors: &mut Errors,
) -> syn::Result<()> {
    // The value after `=`, with a message that says what was expected.
    fn value<T>(
        input: ParseStream<'_>,
        expected: &str,
        parse: impl FnOnce(ParseStream<'_>) -> syn::Result<T>,
    ) -> syn::Result<T> {
        input.parse::<Token![=]>().map_err(|e| syn::Error::new(e.span(), expected))?;
        parse(input)
    }
    fn set<T>(slot: &mut Option<T>, value: T, name: &Ident, errors: &mut Errors) {
        match slot {
            Some(_) => errors.spanned(name, format!("`{name}` is given twice; keep one")),
            None => *slot = Some(value),
        }
    }
    match name.to_string().as_str() {
        "chat" => {
            let expected =
                "expected `chat = <parameter>`: name the parameter that holds the chat id";
            let expr: Expr = value(input, expected, |i| i.parse())?;
            set(&mut options.chat, (name.clone(), expr), &name, errors);
        }
        "key" => {
            let expected = "expected `key = <field>`: name the field rows are de-duplicated by";
            let key =
                value(input, expected, Punctuated::<Member, Token![.]>::parse_separated_nonempty)?;
            set(&mut options.key, (name.clone(), key), &name, errors);
        }
        "finish" => {
            let expected =
                "expected `finish = <function>`: the path of the function the result goes through";
            let path: syn::Path = value(input, expected, |i| i.parse())?;
            set(&mut options.finish, (name.clone(), path), &name, errors);
        }
        "global" => set(&mut options.global, name.clone(), &name, errors),
        "cached" => set(&mut options.cached, name.clone(), &name, errors),
        "all_sources" => set(&mut options.all_sources, name.clone(), &name, errors),
        "source" => set(&mut options.source, name.clone(), &name, errors),
        _ => {
            let expected = expected_options(kind);
            errors.spanned(&name, format!("unknown option `{name}`; expected one of {expected}"));
            // Skip the option's value, if any, to go on with the next one.
            if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                input.parse::<Expr>()?;
            }
        }
    }
    Ok(())
}

/// Parses and checks the attribute `attr` of kind `kind` on `func`.
pub fn parse(kind: Kind, attr: TokenStream, func: ItemFn) -> syn::Result<Query> {
    let mut errors = Errors::default();
    let options = parse_options(kind, attr, &mut errors);
    if let Some(asyncness) = &func.sig.asyncness {
        errors.spanned(asyncness, "a query is a plain function; remove `async`");
    }
    let params = parameters(kind, &func.sig, &mut errors);
    carriable(&func.sig, &params, &mut errors);
    let output = output(&func.sig, &mut errors);
    check_options(kind, &options, &mut errors);
    let scope = scope(kind, &options, &params, &mut errors);
    if let (Some((key, _)), None) = (&options.key, &options.all_sources)
        && kind == Kind::Read
    {
        errors.spanned(key, "`key` is for `all_sources` reads; add `all_sources` or remove `key`");
    }
    // A fan-out returns rows.
    let row = match (&scope, &output) {
        (Some(Scope::AllSources { .. }), Some(output)) => match vec_arg(output) {
            Some(row) => Some(row.clone()),
            None => {
                errors.spanned(
                    output,
                    "an `all_sources` read returns `QueryResult<Vec<T>>`: the rows of every \
                     source are merged",
                );
                None
            }
        },
        _ => None,
    };
    let (Some(scope), Some(output)) = (scope, output) else {
        // Errors were recorded for whichever is missing.
        return Err(errors
            .0
            .unwrap_or_else(|| syn::Error::new(Span::call_site(), "invalid query")));
    };
    let finish = options.finish.map(|(_, path)| path);
    let cached = options.cached.is_some();
    errors.finish(Query { kind, scope, func, params, output, row, finish, cached })
}

/// The parameters after the connection, which must come first. When the first is not one, it is
/// read as an ordinary parameter, so that the other checks do not report errors that follow from
/// this one.
fn parameters(kind: Kind, sig: &syn::Signature, errors: &mut Errors) -> Vec<Param> {
    let mut inputs = sig.inputs.iter().peekable();
    match inputs.peek() {
        Some(FnArg::Receiver(receiver)) => {
            errors.spanned(
                receiver,
                "annotate a free function, not a method: its first parameter is the connection, \
                 `conn: &mut multisource::Connection`",
            );
            inputs.next();
        }
        Some(FnArg::Typed(first)) if !is_mut_reference(&first.ty) => errors.spanned(
            &first.ty,
            "the first parameter must be the connection, `conn: &mut multisource::Connection`",
        ),
        Some(FnArg::Typed(_)) => {
            inputs.next();
        }
        None => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "missing connection parameter: the first parameter must be \
             `conn: &mut multisource::Connection`",
        )),
    }
    let mut params = Vec::new();
    for input in inputs {
        let FnArg::Typed(typed) = input else { continue };
        match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                if pat.ident == "source" {
                    let message = match kind {
                        Kind::Read => {
                            "the generated method adds its own `source: Option<&str>` \
                                       parameter; rename this one"
                        }
                        Kind::Write => {
                            "writes never take a source: they go to the chat's mapped \
                                        source or the default source; remove this parameter"
                        }
                    };
                    errors.spanned(&pat.ident, message);
                }
                params.push(Param { ident: pat.ident.clone(), ty: (*typed.ty).clone() });
            }
            other => errors.spanned(
                other,
                "give this parameter a plain name: the generated method passes it on by name",
            ),
        }
    }
    params
}

/// What the async twin cannot carry to another thread: a generic type, a `&mut` or an `impl`
/// parameter.
fn carriable(sig: &syn::Signature, params: &[Param], errors: &mut Errors) {
    for generic in &sig.generics.params {
        if !matches!(generic, syn::GenericParam::Lifetime(_)) {
            errors.spanned(
                generic,
                "a query's parameters have concrete types: its async twin carries each argument \
                 to another thread by its type (`multisource::Carry`); write the type out",
            );
        }
    }
    for param in params {
        match &param.ty {
            Type::Reference(r) if r.mutability.is_some() => errors.spanned(
                &param.ty,
                "a query cannot take a `&mut` argument: its async twin runs it on another thread; \
                 return what it would change instead",
            ),
            Type::ImplTrait(_) => errors.spanned(
                &param.ty,
                "a query's parameters have concrete types: its async twin carries each argument \
                 to another thread by its type (`multisource::Carry`); write the type out",
            ),
            _ => {}
        }
    }
}

/// `T` of the return type, which must be `QueryResult<T>`.
fn output(sig: &syn::Signature, errors: &mut Errors) -> Option<Type> {
    match &sig.output {
        ReturnType::Type(_, ty) => match query_result_arg(ty) {
            Some(t) => Some(t.clone()),
            None => {
                errors.spanned(
                    ty,
                    "a query returns diesel's `QueryResult<T>`, so that the method can return \
                     `multisource::Result<T>`",
                );
                None
            }
        },
        ReturnType::Default => {
            errors.push(syn::Error::new(
                sig.paren_token.span.close(),
                "a query returns diesel's `QueryResult<T>`; add `-> QueryResult<...>`",
            ));
            None
        }
    }
}

/// The options that do not fit the kind, or each other.
fn check_options(kind: Kind, options: &Options, errors: &mut Errors) {
    if let (Kind::Write, Some(source)) = (kind, &options.source) {
        errors.spanned(
            source,
            "writes never take a source: they go to the chat's mapped source or the default \
             source; remove `source`",
        );
    } else if let (Kind::Read, Some(source)) = (kind, &options.source) {
        errors.spanned(
            source,
            "reads get their `source: Option<&str>` parameter without asking; remove `source`",
        );
    }
    if let (Kind::Write, Some(all)) = (kind, &options.all_sources) {
        errors.spanned(
            all,
            "a write cannot fan out to every source; use `chat = <parameter>` or `global`",
        );
    }
    if let Some((finish, _)) = &options.finish {
        if kind == Kind::Write {
            errors.spanned(finish, "`finish` is for reads only; remove it");
        } else if options.all_sources.is_some() {
            errors.spanned(finish, "`finish` does not apply to `all_sources` reads; remove it");
        }
    }
    if let Some(cached) = &options.cached {
        if kind == Kind::Write {
            errors.spanned(cached, "`cached` is for reads only; remove it");
        } else if options.all_sources.is_some() {
            errors.spanned(cached, "`cached` does not apply to `all_sources` reads; remove it");
        } else if options.finish.is_some() {
            errors.spanned(
                cached,
                "`cached` does not apply to reads with `finish`, whose answer is not the \
                 query's alone; remove one",
            );
        }
    }
    if let (Kind::Write, Some((key, _))) = (kind, &options.key) {
        errors.spanned(key, "`key` is for `all_sources` reads only; remove it");
    }
}

/// Where the query runs: exactly one of `chat`, `global` and `all_sources`.
fn scope(kind: Kind, options: &Options, params: &[Param], errors: &mut Errors) -> Option<Scope> {
    let given: Vec<&Ident> = [
        options.chat.as_ref().map(|(name, _)| name),
        options.global.as_ref(),
        options.all_sources.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() > 1 {
        errors.spanned(
            given[1],
            format!("`{}` and `{}` exclude each other; keep one scope", given[0], given[1]),
        );
    }
    match (&options.chat, &options.global, &options.all_sources) {
        (Some((_, expr)), _, _) => {
            check_chat_expr(expr, params, errors);
            Some(Scope::Chat(expr.clone()))
        }
        (None, Some(_), _) => Some(Scope::Global),
        (None, None, Some(all)) => match &options.key {
            Some((_, key)) => Some(Scope::AllSources { key: key.clone() }),
            None if kind == Kind::Read => {
                errors.spanned(
                    all,
                    "`all_sources` needs `key = <field>`: the field of the row type that rows \
                     from several sources are de-duplicated by",
                );
                None
            }
            None => None,
        },
        (None, None, None) => {
            if given.is_empty() && options.source.is_none() {
                errors.push(syn::Error::new(
                    Span::call_site(),
                    format!("say where the query runs: {}", scope_options(kind)),
                ));
            }
            None
        }
    }
}

/// The options that say where a kind of query runs, for messages.
fn scope_options(kind: Kind) -> &'static str {
    match kind {
        Kind::Read => "`chat = <parameter>`, `global` or `all_sources, key = <field>`",
        Kind::Write => "`chat = <parameter>` or `global`",
    }
}

/// The options a kind of attribute takes, for messages.
fn expected_options(kind: Kind) -> &'static str {
    match kind {
        Kind::Read => READ_OPTIONS,
        Kind::Write => WRITE_OPTIONS,
    }
}

/// Checks that every bare name in the chat expression is a parameter.
fn check_chat_expr(expr: &Expr, params: &[Param], errors: &mut Errors) {
    struct Names<'a>(Vec<&'a Ident>);
    impl<'a> Visit<'a> for Names<'a> {
        fn visit_expr_path(&mut self, path: &'a syn::ExprPath) {
            if path.qself.is_none()
                && let Some(ident) = path.path.get_ident()
            {
                self.0.push(ident);
            }
        }
        // Method names and fields are not variables.
        fn visit_member(&mut self, _member: &'a Member) {}
    }
    let mut names = Names(Vec::new());
    names.visit_expr(expr);
    let known: Vec<String> = params.iter().map(|p| format!("`{}`", p.ident)).collect();
    for ident in names.0 {
        if !params.iter().any(|p| p.ident == *ident) {
            let choices = match known.is_empty() {
                true => "the function has no parameter besides the connection".to_owned(),
                false => format!("one of {}", known.join(", ")),
            };
            errors.spanned(
                ident,
                format!(
                    "no parameter named `{ident}`; `chat` names the parameter that holds the chat \
                     id ({choices})"
                ),
            );
        }
    }
}

fn is_mut_reference(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_some())
}

/// `T` when `ty` is `QueryResult<T>` (any path ending in `QueryResult`).
fn query_result_arg(ty: &Type) -> Option<&Type> {
    single_generic(ty, "QueryResult")
}

/// `T` when `ty` is `Vec<T>` (any path ending in `Vec`).
fn vec_arg(ty: &Type) -> Option<&Type> {
    single_generic(ty, "Vec")
}

fn single_generic<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(t)] => Some(t),
        _ => None,
    }
}

/// How paths are written in a rendered signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    /// Absolute paths, for generated code: `::core::option::Option`, `::multisource::Result`.
    Absolute,
    /// Short paths, for documentation: `Option`, `Result` (`cargo xtask codegen`'s).
    Short,
}

/// How the async twin of a query carries one argument to the thread that runs the query.
pub struct Carried {
    /// The `multisource::Carry` family of the argument: its type with `'static` lifetimes, and,
    /// for a reference to a struct, the struct.
    pub family: Type,
    /// The parameter is a reference to a struct: the struct is carried, and lent back by
    /// reference. (`&str` and `&[T]` are carried as themselves.)
    pub by_ref: bool,
}

impl Param {
    /// How the async twin carries this parameter.
    pub fn carried(&self) -> Carried {
        match &self.ty {
            Type::Reference(r) if !is_str_or_slice(&r.elem) => {
                Carried { family: with_static_lifetimes(&r.elem), by_ref: true }
            }
            ty => Carried { family: with_static_lifetimes(ty), by_ref: false },
        }
    }
}

/// `str` or `[T]`, which a reference borrows without a struct to hold.
fn is_str_or_slice(ty: &Type) -> bool {
    match ty {
        Type::Slice(_) => true,
        Type::Path(p) => p.qself.is_none() && p.path.is_ident("str"),
        _ => false,
    }
}

/// `ty` with every lifetime, written or elided, as `'static`: the name of its `Carry` family.
fn with_static_lifetimes(ty: &Type) -> Type {
    struct Static;
    impl syn::visit_mut::VisitMut for Static {
        fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
            *lifetime = syn::Lifetime::new("'static", lifetime.span());
        }
        fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
            if r.lifetime.is_none() {
                r.lifetime = Some(syn::Lifetime::new("'static", r.and_token.span));
            }
            syn::visit_mut::visit_type_reference_mut(self, r);
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Static, &mut ty);
    ty
}

impl Query {
    /// The async twin's signature (a method of `multisource::AsyncDatabase`), without a trailing
    /// body or semicolon: the same parameters, and a `Call` of the same result.
    pub fn async_signature(&self, paths: Paths) -> TokenStream {
        let call = match paths {
            Paths::Absolute => quote!(::multisource::Call),
            Paths::Short => quote!(Call),
        };
        self.signature_returning(paths, call)
    }

    /// The generated method's name: the function's.
    pub fn name(&self) -> &Ident {
        &self.func.sig.ident
    }

    /// The generated method's signature, without a trailing body or semicolon.
    pub fn method_signature(&self, paths: Paths) -> TokenStream {
        let result = match paths {
            Paths::Absolute => quote!(::multisource::Result),
            Paths::Short => quote!(Result),
        };
        self.signature_returning(paths, result)
    }

    /// The method's parameters (the query's, then `source` for a read), returning `wrapper<T>`.
    fn signature_returning(&self, paths: Paths, wrapper: TokenStream) -> TokenStream {
        let name = self.name();
        let generics = &self.func.sig.generics;
        let where_clause = &generics.where_clause;
        let params = self.params.iter().map(|p| {
            let (ident, ty) = (&p.ident, &p.ty);
            quote!(#ident: #ty)
        });
        let option = match paths {
            Paths::Absolute => quote!(::core::option::Option),
            Paths::Short => quote!(Option),
        };
        let source = match self.kind {
            Kind::Read => Some(quote!(source: #option<&str>)),
            Kind::Write => None,
        };
        let output = &self.output;
        let params = params.chain(source);
        quote! {
            fn #name #generics(&self, #(#params),*) -> #wrapper<#output> #where_clause
        }
    }

    /// A short description of the scope, for documentation: `chat (chat_id)`, `global`,
    /// `all sources (key chat_id)`. Used by `xtask`, which compiles this file too.
    #[allow(dead_code)]
    pub fn scope_text(&self) -> String {
        match &self.scope {
            Scope::Chat(expr) => format!("chat (`{}`)", tokens_text(expr)),
            Scope::Global => "global".to_owned(),
            Scope::AllSources { key } => format!("all sources (key `{}`)", tokens_text(key)),
        }
    }

    /// How the method routes, in a sentence (two for a cached read), for its documentation.
    pub fn routing_doc(&self) -> String {
        let routing = self.routing_sentence();
        match self.cached {
            true => format!(
                "{routing} Cached: on a SQLite source with `cache` on, the answer is kept in \
                 memory and given again while nothing commits to the source."
            ),
            false => routing,
        }
    }

    fn routing_sentence(&self) -> String {
        match (self.kind, &self.scope) {
            (Kind::Read, Scope::Chat(expr)) => format!(
                "A read routed by chat: `source` if given, else the source the chat `{}` is \
                 mapped to, else the default source.",
                tokens_text(expr)
            ),
            (Kind::Read, Scope::Global) => {
                "A global read: `source` if given, else the default source.".to_owned()
            }
            (Kind::Read, Scope::AllSources { key }) => format!(
                "A read of every source: with `source`, that source alone; without, every source \
                 in configuration order, merged, keeping the first row of each `{}`.",
                tokens_text(key)
            ),
            (Kind::Write, Scope::Chat(expr)) => format!(
                "A write routed by chat, in one transaction: to the source the chat `{}` is \
                 mapped to, else the default source; refused with `Error::ReadOnlySource` when \
                 that source is read-only.",
                tokens_text(expr)
            ),
            (Kind::Write, _) => "A global write, in one transaction, to the default source; \
                                 refused with `Error::ReadOnlySource` when it is read-only."
                .to_owned(),
        }
    }
}

/// Tokens as text, without the spaces `TokenStream`'s display puts around punctuation.
pub fn tokens_text(tokens: impl ToTokens) -> String {
    let text = tokens.to_token_stream().to_string();
    text.replace(" . ", ".").replace(" (", "(").replace("( ", "(").replace(" )", ")")
}

/// A kind of source a query is compiled for besides SQLite, whose connection the annotated
/// function is written against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    /// The kind, for the copy's module: `__multisource_<tag>_<query>`.
    pub tag: &'static str,
    /// The connection type of the kind, under `::multisource::__private`.
    pub connection: &'static str,
    /// The macro under `::multisource::__private` that keeps its input only when `multisource`
    /// is built with the kind (`items: ...` for items, `expr: ...` for an expression, which is
    /// `()` without the kind).
    pub gate: &'static str,
}

/// The one list of the kinds each annotated query is also compiled for, in the order
/// `Conn::run` takes their copies.
pub const COPIES: &[Copy] =
    &[Copy { tag: "pg", connection: "PgConnection", gate: "__if_postgres" }];
