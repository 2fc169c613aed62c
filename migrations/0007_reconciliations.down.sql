DROP TABLE rm_reconciliation_differences;
DROP TABLE rm_reconciliations;
