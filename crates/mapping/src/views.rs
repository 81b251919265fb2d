//! Views: the same names answering different addresses to different client
//! networks, as each Azure VNet sees the private endpoints of the private
//! DNS zones linked to it.
//!
//! A view's mapping is the top level's with the view's entries laid over
//! it: a name the view maps answers with the view's addresses, a zone the
//! view declares is served to its clients only, and every other name is
//! answered as the top level answers it. A client is served by the view
//! with the longest `clients` prefix containing its address; a client in no
//! view sees the top level alone. (A view cannot hide a top-level name: in
//! Azure a VNet sees every record of the zones linked to it, and a name in
//! the top level is one the operator wants every network to reach.)
//!
//! Each view's mapping is built whole, top level included, so every answer
//! path serves it as it serves the top level: the cost is memory, one copy
//! of the top-level names per view.

use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::build::build;
use crate::diagnostic::Report;
use crate::file::{FileSpec, RecordDecl, ViewDecl, ZoneDecl};
use crate::mapping::Mapping;
use crate::settings::Settings;

/// One `[[view]]`, ready to serve.
#[derive(Debug, Clone)]
pub struct View {
    pub name: Arc<str>,
    /// Host bits cleared.
    pub clients: Vec<IpNet>,
    /// The top level with the view's entries laid over it.
    pub mapping: Mapping,
}

/// The views of a file, in file order.
#[derive(Debug, Clone, Default)]
pub struct Views {
    views: Vec<View>,
    selector: ViewSelector,
}

impl Views {
    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }

    pub fn len(&self) -> usize {
        self.views.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &View> {
        self.views.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut View> {
        self.views.iter_mut()
    }

    pub fn get(&self, index: usize) -> Option<&View> {
        self.views.get(index)
    }

    /// The view called `name`.
    pub fn named(&self, name: &str) -> Option<&View> {
        self.views.iter().find(|view| &*view.name == name)
    }

    /// The view serving `client` (see [`ViewSelector::select`]).
    pub fn select(&self, client: IpAddr) -> Option<usize> {
        self.selector.select(client)
    }

    /// The client selection and the views, for a server to keep apart.
    pub fn into_parts(self) -> (ViewSelector, Vec<View>) {
        (self.selector, self.views)
    }
}

/// Which view serves which client.
#[derive(Debug, Clone, Default)]
pub struct ViewSelector {
    /// Every client prefix with its view, longest prefixes first.
    prefixes: Vec<(IpNet, usize)>,
}

impl ViewSelector {
    fn new(views: &[View]) -> Self {
        let mut prefixes: Vec<(IpNet, usize)> = views
            .iter()
            .enumerate()
            .flat_map(|(index, view)| view.clients.iter().map(move |net| (*net, index)))
            .collect();
        prefixes.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        Self { prefixes }
    }

    /// The index of the view with the longest `clients` prefix containing
    /// `client` (prefixes are unique across views: `check` makes sure), or
    /// `None` for the top level.
    pub fn select(&self, client: IpAddr) -> Option<usize> {
        // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        self.prefixes
            .iter()
            .find(|(net, _)| net.contains(&client))
            .map(|(_, index)| *index)
    }
}

/// What the top level declared, kept to lay each view over.
#[derive(Debug)]
pub(crate) struct TopLevel {
    pub(crate) zones: Vec<ZoneDecl>,
    pub(crate) records: Vec<RecordDecl>,
}

/// Builds every view over `top`, adding problems to `report`: names and
/// client prefixes used twice, entries that repeat the top level.
pub(crate) fn build_views(
    top: TopLevel,
    decls: Vec<ViewDecl>,
    settings: &Settings,
    report: &mut Report,
) -> Views {
    check_names(&decls, report);
    check_clients(&decls, report);
    let mut views = Vec::with_capacity(decls.len());
    for decl in decls {
        repeats(&top.records, &decl, report);
        let overridden: HashSet<&str> = decl.records.iter().map(|r| r.name.as_str()).collect();
        let mut records: Vec<RecordDecl> = top
            .records
            .iter()
            .filter(|record| !overridden.contains(record.name.as_str()))
            .cloned()
            .collect();
        records.extend(decl.records.iter().cloned());
        let mut zones = top.zones.clone();
        zones.extend(decl.zones.iter().cloned());
        let spec = FileSpec {
            settings: settings.clone(),
            zones,
            vaults: Vec::new(),
            records,
            views: Vec::new(),
        };
        // The top level's own problems were reported when it was built;
        // only those of this view's entries are new.
        let mut own = Report::new(report.file());
        let (_, mapping) = build(spec, &mut own);
        let prefix = format!("{}.", decl.field);
        report.diagnostics.extend(
            own.diagnostics
                .into_iter()
                .filter(|d| d.field.starts_with(&prefix)),
        );
        views.push(View {
            name: decl.name,
            clients: decl.clients,
            mapping,
        });
    }
    let selector = ViewSelector::new(&views);
    Views { views, selector }
}

fn check_names(decls: &[ViewDecl], report: &mut Report) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for decl in decls {
        match seen.entry(&decl.name) {
            Entry::Vacant(slot) => {
                slot.insert(decl.line);
            }
            Entry::Occupied(first) => report.error(
                decl.line,
                format!("{}.name", decl.field),
                format!(
                    "view {} is declared twice (first at line {})",
                    decl.name,
                    first.get()
                ),
                Some("give each view its own name, or merge the two".into()),
            ),
        }
    }
}

/// The same prefix in two views is ambiguous (an error); one inside
/// another is allowed (the longer wins) and worth a word.
fn check_clients(decls: &[ViewDecl], report: &mut Report) {
    let mut owner: HashMap<IpNet, &ViewDecl> = HashMap::new();
    for decl in decls {
        for net in &decl.clients {
            match owner.entry(*net) {
                Entry::Vacant(slot) => {
                    slot.insert(decl);
                }
                Entry::Occupied(first) if first.get().field == decl.field => report.warning(
                    decl.line,
                    format!("{}.clients", decl.field),
                    format!("{net} is listed twice in view {}", decl.name),
                    Some("remove one".into()),
                ),
                Entry::Occupied(first) => report.error(
                    decl.line,
                    format!("{}.clients", decl.field),
                    format!(
                        "{net} is a client network of view {} (line {}) too: a client there would match both",
                        first.get().name,
                        first.get().line
                    ),
                    Some("each prefix belongs to one view; a longer prefix may carve a network out of another view's".into()),
                ),
            }
        }
    }
    for decl in decls {
        for net in &decl.clients {
            let wider = owner
                .iter()
                .filter(|(other, view)| {
                    view.field != decl.field
                        && other.prefix_len() < net.prefix_len()
                        && other.contains(net)
                })
                .max_by_key(|(other, _)| other.prefix_len());
            if let Some((other, view)) = wider {
                report.warning(
                    decl.line,
                    format!("{}.clients", decl.field),
                    format!(
                        "{net} lies inside {other} of view {} (line {}); clients in {net} see view {}",
                        view.name, view.line, decl.name
                    ),
                    None,
                );
            }
        }
    }
}

/// A view entry mapping a name to exactly the top level's addresses
/// changes nothing.
fn repeats(top: &[RecordDecl], decl: &ViewDecl, report: &mut Report) {
    if decl.records.is_empty() {
        return;
    }
    let wanted: HashSet<&str> = decl.records.iter().map(|r| r.name.as_str()).collect();
    let top: HashMap<&str, &RecordDecl> = top
        .iter()
        .filter(|r| wanted.contains(r.name.as_str()))
        .map(|r| (r.name.as_str(), r))
        .collect();
    for record in &decl.records {
        let Some(first) = top.get(record.name.as_str()) else {
            continue;
        };
        if first.addresses.set() == record.addresses.set() {
            report.warning(
                record.line,
                record.field(),
                format!(
                    "{} has the same addresses in view {} as at the top level (line {}): the entry changes nothing",
                    record.name, decl.name, first.line
                ),
                Some("remove it from the view, or give the view its own private endpoint's address".into()),
            );
        }
    }
}

#[cfg(test)]
#[path = "tests/views.rs"]
mod tests;
