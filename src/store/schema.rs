//! Table names and their ids: the one place a table name becomes a [`TableId`].
//!
//! Ids are assigned in declaration order; the model loader declares tables in sorted-name
//! order (it reads them from a `BTreeMap`), so reordering a model file does not change ids.
//! One more table, the idempotency table, sits after the declared ones; it has no name and
//! is reachable only through the idempotency methods, so a business op cannot corrupt it.

use super::error::StoreError;
use super::value::TableId;

/// The declared tables of one database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    names: Vec<String>,
}

impl Schema {
    /// A schema of `names` in order; names must be distinct and leave room for the
    /// idempotency table.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, StoreError> {
        let mut schema = Schema { names: Vec::new() };
        for name in names {
            if schema.table_id(name).is_some() {
                return Err(StoreError::DuplicateTable(name.to_string()));
            }
            if schema.names.len() >= usize::from(u16::MAX) {
                return Err(StoreError::TooManyTables);
            }
            schema.names.push(name.to_string());
        }
        Ok(schema)
    }

    /// The id of the table called `name`, for the model loader.
    pub fn table_id(&self, name: &str) -> Option<TableId> {
        let index = self.names.iter().position(|n| n == name)?;
        Some(TableId(index as u16))
    }

    /// The name of a declared table, for traces and reports.
    pub fn name(&self, table: TableId) -> Option<&str> {
        self.names.get(table.index()).map(String::as_str)
    }

    /// Number of declared tables (the idempotency table not included).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no table is declared.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Declared tables in id order.
    pub fn tables(&self) -> impl Iterator<Item = (TableId, &str)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, name)| (TableId(i as u16), name.as_str()))
    }

    /// The hidden table holding idempotency records.
    pub(super) fn idempotency_table(&self) -> TableId {
        TableId(self.names.len() as u16)
    }

    /// `table` if it is a declared table; business ops go through this check.
    pub(super) fn check(&self, table: TableId) -> Result<TableId, StoreError> {
        if table.index() < self.names.len() {
            Ok(table)
        } else {
            Err(StoreError::UnknownTable(table))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_ids_in_declaration_order_and_back() {
        let schema = Schema::new(["accounts", "orders"]).expect("distinct names");
        assert_eq!(schema.table_id("orders"), Some(TableId(1)));
        assert_eq!(schema.name(TableId(0)), Some("accounts"));
        assert_eq!(schema.table_id("nope"), None);
        assert_eq!(schema.idempotency_table(), TableId(2));
        assert!(schema.check(TableId(2)).is_err(), "idempotency table is hidden");
    }

    #[test]
    fn duplicate_table_names_are_refused() {
        assert!(matches!(
            Schema::new(["a", "a"]),
            Err(StoreError::DuplicateTable(name)) if name == "a"
        ));
    }
}
