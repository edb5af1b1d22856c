-- Names, paths and tags are limited in characters since issue 13; see the
-- PostgreSQL migration of the same number, which bounds the keys of two
-- btree indexes. SQLite keeps long index keys in overflow pages, so its
-- indexes hold 4,096-byte paths as they are: nothing changes here, and the
-- version is recorded so that both engines stay at the same number.
SELECT 1;
