use super::Row;

pub(super) fn rows() -> Vec<Row> {
    vec![]
}
