-- Nothing ever used it, and one column cannot link several upstream
-- providers: upstream identities will get a table of their own.
DROP INDEX users_external_user_id_key;
ALTER TABLE users DROP COLUMN external_user_id;
