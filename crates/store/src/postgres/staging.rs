//! Rows handed to PostgreSQL as one relation, so that a batch is written by a few set-based
//! statements instead of one statement per row.
//!
//! A [`Table`] is a batch held column by column. [`stage`] makes it a relation a statement can
//! read: a large batch is sent with binary COPY into a temporary table that disappears at
//! commit; a small one (an online ingest, an access-log append) is sent as one array parameter
//! per column and read back through `unnest`, which costs no catalog work. Either way the
//! relation has the table's columns plus `ord`, the row's 1-based position, and its text columns
//! compare in the "C" collation, like the permanent tables' key columns.

use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::StoreError;

/// Rows from which a batch goes through COPY and a temporary table rather than arrays.
pub(crate) const COPY_ROWS: usize = 1000;

/// One column of a batch.
pub(crate) enum Column {
    Int4(Vec<i32>),
    Int8(Vec<i64>),
    OptInt8(Vec<Option<i64>>),
    Float8(Vec<f64>),
    Text(Vec<String>),
    OptText(Vec<Option<String>>),
    Bytea(Vec<Vec<u8>>),
    OptBytea(Vec<Option<Vec<u8>>>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Int4(v) => v.len(),
            Column::Int8(v) => v.len(),
            Column::OptInt8(v) => v.len(),
            Column::Float8(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::OptText(v) => v.len(),
            Column::Bytea(v) => v.len(),
            Column::OptBytea(v) => v.len(),
        }
    }

    fn element_type(&self) -> Type {
        match self {
            Column::Int4(_) => Type::INT4,
            Column::Int8(_) | Column::OptInt8(_) => Type::INT8,
            Column::Float8(_) => Type::FLOAT8,
            Column::Text(_) | Column::OptText(_) => Type::TEXT,
            Column::Bytea(_) | Column::OptBytea(_) => Type::BYTEA,
        }
    }

    fn sql_type(&self) -> &'static str {
        match self {
            Column::Int4(_) => "int4",
            Column::Int8(_) | Column::OptInt8(_) => "int8",
            Column::Float8(_) => "float8",
            Column::Text(_) | Column::OptText(_) => "text",
            Column::Bytea(_) | Column::OptBytea(_) => "bytea",
        }
    }

    fn is_text(&self) -> bool {
        matches!(self, Column::Text(_) | Column::OptText(_))
    }

    /// The whole column as one array parameter.
    fn array(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int4(v) => v,
            Column::Int8(v) => v,
            Column::OptInt8(v) => v,
            Column::Float8(v) => v,
            Column::Text(v) => v,
            Column::OptText(v) => v,
            Column::Bytea(v) => v,
            Column::OptBytea(v) => v,
        }
    }

    /// One row's value, for COPY.
    fn value(&self, row: usize) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int4(v) => &v[row],
            Column::Int8(v) => &v[row],
            Column::OptInt8(v) => &v[row],
            Column::Float8(v) => &v[row],
            Column::Text(v) => &v[row],
            Column::OptText(v) => &v[row],
            Column::Bytea(v) => &v[row],
            Column::OptBytea(v) => &v[row],
        }
    }
}

/// A batch held column by column; every column has the same length.
pub(crate) struct Table {
    /// The relation's name in statements (and the temporary table's, when there is one):
    /// unique within one transaction.
    pub(crate) name: String,
    pub(crate) columns: Vec<(&'static str, Column)>,
}

impl Table {
    pub(crate) fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, column)| column.len())
    }
}

/// A batch as a relation statements can read.
pub(crate) struct Staged<'t> {
    relation: String,
    /// The array parameters the relation reads (none for a temporary table); a statement that
    /// reads the relation passes them first.
    arrays: Vec<&'t (dyn ToSql + Sync)>,
}

impl<'t> Staged<'t> {
    /// What to write after FROM: a table name, or `(SELECT ... FROM unnest(...)) AS name`.
    pub(crate) fn relation(&self) -> &str {
        &self.relation
    }

    /// The placeholder of a statement's own `k`-th parameter (from 0), after the arrays.
    pub(crate) fn placeholder(&self, k: usize) -> String {
        format!("${}", self.arrays.len() + k + 1)
    }

    /// A statement's parameters: the arrays, then its own.
    pub(crate) fn params<'a>(
        &'a self,
        own: &[&'a (dyn ToSql + Sync)],
    ) -> Vec<&'a (dyn ToSql + Sync)> {
        self.arrays
            .iter()
            .copied()
            .chain(own.iter().copied())
            .collect()
    }
}

/// Makes `table` readable by the statements of `transaction` (see the module comment).
pub(crate) async fn stage<'t>(
    transaction: &Transaction<'_>,
    table: &'t Table,
) -> Result<Staged<'t>, StoreError> {
    let name = &table.name;
    let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    if table.rows() < COPY_ROWS {
        let arrays: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, column))| format!("${}::{}[]", i + 1, column.sql_type()))
            .collect();
        let selected: Vec<String> = table
            .columns
            .iter()
            .map(|(column_name, column)| {
                if column.is_text() {
                    format!("u.{column_name} COLLATE \"C\" AS {column_name}")
                } else {
                    format!("u.{column_name}")
                }
            })
            .collect();
        return Ok(Staged {
            relation: format!(
                "(SELECT u.ord, {} FROM unnest({}) WITH ORDINALITY AS u({}, ord)) AS {name}",
                selected.join(", "),
                arrays.join(", "),
                names.join(", "),
            ),
            arrays: table.columns.iter().map(|(_, c)| c.array()).collect(),
        });
    }
    let definitions: Vec<String> = table
        .columns
        .iter()
        .map(|(column_name, column)| {
            let collation = if column.is_text() {
                " COLLATE \"C\""
            } else {
                ""
            };
            format!("{column_name} {}{collation}", column.sql_type())
        })
        .collect();
    transaction
        .batch_execute(&format!(
            "CREATE TEMPORARY TABLE {name} (ord int8 NOT NULL, {}) ON COMMIT DROP",
            definitions.join(", ")
        ))
        .await?;
    let sink = transaction
        .copy_in(&format!(
            "COPY {name} (ord, {}) FROM STDIN (FORMAT binary)",
            names.join(", ")
        ))
        .await?;
    let types: Vec<Type> = std::iter::once(Type::INT8)
        .chain(table.columns.iter().map(|(_, c)| c.element_type()))
        .collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for i in 0..table.rows() {
        let ord = i as i64 + 1;
        let row: Vec<&(dyn ToSql + Sync)> = std::iter::once(&ord as &(dyn ToSql + Sync))
            .chain(table.columns.iter().map(|(_, c)| c.value(i)))
            .collect();
        writer.as_mut().write(&row).await?;
    }
    writer.as_mut().finish().await?;
    // A temporary table is never analysed by autovacuum; without statistics the planner guesses
    // its size from its pages, and joins against it can go badly wrong.
    transaction
        .batch_execute(&format!("ANALYZE {name}"))
        .await?;
    Ok(Staged {
        relation: name.clone(),
        arrays: Vec::new(),
    })
}
