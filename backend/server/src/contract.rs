//! The API contract as served at `/openapi.json`: the document utoipa generates from the
//! routes, completed with what every operation shares (the bearer scheme, the error body of
//! each failure status), and the table of routes that tells a wrong method (405) from an
//! unknown path (404).

use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema};
use utoipa::{PartialSchema, ToSchema};

use hearth_api::ErrorBody;

/// The name of the security scheme: `Authorization: Bearer <token>`.
pub const BEARER: &str = "bearer";

/// Completes the generated document (see the module's comment).
pub fn complete(api: &mut OpenApi) {
    api.info.title = "hearth".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    api.info.description = Some(
        "Compute pools control plane; a superset of Qarnot's REST API. Errors answer \
         {\"message\", \"code\"}."
            .into(),
    );
    api.info.contact = None;
    api.info.license = Some(utoipa::openapi::License::new("Apache-2.0"));

    let components = api.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    let mut schemas = Vec::new();
    ErrorBody::schemas(&mut schemas);
    components.schemas.extend(schemas);
    // What the event streams send besides the body their route names: the output
    // stream's last event and `GET /events`' `reset`.
    components.schemas.insert(
        hearth_api::events::OutputEnd::name().into_owned(),
        hearth_api::events::OutputEnd::schema(),
    );
    components.schemas.insert(
        hearth_api::events::StreamReset::name().into_owned(),
        hearth_api::events::StreamReset::schema(),
    );
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "An API token (POST /tokens, or the one `hearth serve` prints), or an \
                     agent's token on /agent/v1",
                ))
                .build(),
        ),
    );
    api.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);

    for (path, item) in api.paths.paths.iter_mut() {
        let has_path_params = path.contains('{');
        for op in operations(item) {
            add_errors(op, has_path_params);
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<&mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The failures any operation of its kind may answer, each with the error body: 400 for a
/// bad parameter or body, 401/403 unless public, 404 when the path names an object, 413
/// and 422 when it takes a body, 500 always.
fn add_errors(op: &mut Operation, has_path_params: bool) {
    // `security(())` on a route: it answers without a token.
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = op.request_body.is_some();
    if let Some(body) = op.request_body.as_mut() {
        body.required = Some(Required::True);
    }
    let mut statuses: Vec<(&str, &str)> = Vec::new();
    if has_params || has_body {
        statuses.push((
            "400",
            "a parameter or the body is invalid (the message names it)",
        ));
    }
    if !public {
        statuses.push(("401", "no valid token"));
        statuses.push(("403", "the token's role may not do this"));
    }
    if has_path_params {
        statuses.push(("404", "no such object (or another tenant's)"));
    }
    if has_body {
        statuses.push(("413", "the body is larger than the server takes"));
        statuses.push(("422", "the body does not have the shape this route reads"));
    }
    statuses.push(("500", "internal error (logged with its cause)"));
    for (status, description) in statuses {
        let entry = op
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
        if let RefOr::T(response) = entry
            && response.content.is_empty()
        {
            response.content.insert(
                "application/json".into(),
                ContentBuilder::new()
                    .schema(Some(RefOr::<Schema>::Ref(Ref::from_schema_name(
                        ErrorBody::name(),
                    ))))
                    .build(),
            );
        }
    }
}

/// A route template split at `/`; `{…}` segments match any one segment.
struct Template {
    segments: Vec<Option<String>>,
    methods: Vec<&'static str>,
}

/// The documented routes and their methods.
pub struct RouteTable(Vec<Template>);

impl RouteTable {
    pub fn of(api: &OpenApi) -> RouteTable {
        let mut out = Vec::new();
        for (path, item) in &api.paths.paths {
            let segments = path
                .trim_matches('/')
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect();
            let mut methods = Vec::new();
            for (method, op) in [
                (HttpMethod::Get, &item.get),
                (HttpMethod::Put, &item.put),
                (HttpMethod::Post, &item.post),
                (HttpMethod::Delete, &item.delete),
                (HttpMethod::Patch, &item.patch),
            ] {
                if op.is_some() {
                    methods.push(method_name(method));
                }
            }
            out.push(Template { segments, methods });
        }
        RouteTable(out)
    }

    /// The methods of the route `path` names, or `None` when no route has that path. When
    /// templates of several routes fit, those with the most literal segments win, as in
    /// the router (`/pools/paginate` is not `/pools/{uuid}`).
    pub fn methods_of(&self, path: &str) -> Option<Vec<&'static str>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let fitting = self.0.iter().filter(|t| {
            t.segments.len() == parts.len()
                && t.segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| s.as_deref().is_none_or(|s| s == *p))
        });
        let literals = |t: &Template| t.segments.iter().filter(|s| s.is_some()).count();
        let best = fitting.clone().map(literals).max()?;
        let mut list: Vec<&'static str> = Vec::new();
        for t in fitting.filter(|t| literals(t) == best) {
            for m in &t.methods {
                if !list.contains(m) {
                    list.push(m);
                }
            }
        }
        let rank = |m: &&str| {
            ["GET", "PUT", "POST", "DELETE", "PATCH"]
                .iter()
                .position(|x| x == m)
        };
        list.sort_by_key(rank);
        Some(list)
    }
}

fn method_name(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Put => "PUT",
        HttpMethod::Post => "POST",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_path_names_its_methods() {
        let mut api = OpenApi::default();
        let op = || Some(Operation::default());
        let item = |get, post| {
            let mut i = utoipa::openapi::PathItem::default();
            i.get = get;
            i.post = post;
            i
        };
        api.paths.paths.insert("/pools".into(), item(op(), op()));
        api.paths
            .paths
            .insert("/pools/{uuid}".into(), item(op(), None));
        api.paths
            .paths
            .insert("/pools/paginate".into(), item(None, op()));
        let t = RouteTable::of(&api);
        assert_eq!(t.methods_of("/pools"), Some(vec!["GET", "POST"]));
        assert_eq!(t.methods_of("/pools/abc"), Some(vec!["GET"]));
        // A literal segment wins over a template.
        assert_eq!(t.methods_of("/pools/paginate"), Some(vec!["POST"]));
        assert_eq!(t.methods_of("/pools/abc/def"), None);
        assert_eq!(t.methods_of("/nope"), None);
    }

    #[test]
    fn every_operation_documents_its_failures() {
        let mut api = OpenApi::default();
        let mut item = utoipa::openapi::PathItem::default();
        item.get = Some(Operation::default());
        api.paths.paths.insert("/pools/{uuid}".into(), item);
        complete(&mut api);
        let op = api.paths.paths["/pools/{uuid}"].get.as_ref().unwrap();
        let statuses: Vec<&String> = op.responses.responses.keys().collect();
        assert_eq!(statuses, ["401", "403", "404", "500"]);
        assert!(
            api.components
                .unwrap()
                .security_schemes
                .contains_key(BEARER)
        );
    }
}
