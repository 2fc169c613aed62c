DROP TABLE rm_book_changes;
