-- Users: accounts, profile, presence flag and password hashes.
-- Reads that return a user never select password_hash; only get_login and get_password_hash
-- (authentication and password changes) read it. Email and username compare through lower()
-- so the unique indexes users_email_lower_key and users_username_lower_key serve the lookups.

-- name: create_user(email, username, display_name, password_hash)^
-- The new user (without the hash). A taken email or username (any letter case) violates
-- users_email_lower_key / users_username_lower_key.
INSERT INTO users (email, username, display_name, password_hash)
VALUES (:email, :username, :display_name, :password_hash)
RETURNING
    id,
    email,
    username,
    display_name,
    is_online,
    last_seen_at,
    created_at,
    updated_at;

-- name: get_user(user_id)^
-- The user with this id, or nothing.
SELECT
    id,
    email,
    username,
    display_name,
    is_online,
    last_seen_at,
    created_at,
    updated_at
FROM users
WHERE id = :user_id;

-- name: get_user_by_email(email)^
-- The user with this email in any letter case, or nothing.
SELECT
    id,
    email,
    username,
    display_name,
    is_online,
    last_seen_at,
    created_at,
    updated_at
FROM users
WHERE lower(email) = lower(:email);

-- name: get_user_by_username(username)^
-- The user with this username in any letter case, or nothing.
SELECT
    id,
    email,
    username,
    display_name,
    is_online,
    last_seen_at,
    created_at,
    updated_at
FROM users
WHERE lower(username) = lower(:username);

-- name: get_login(login)^
-- The user whose email or username matches the login in any letter case, with their
-- password_hash, or nothing. Usernames cannot contain '@' and emails must, so at most one
-- row matches.
SELECT
    id,
    email,
    username,
    display_name,
    is_online,
    last_seen_at,
    created_at,
    updated_at,
    password_hash
FROM users
WHERE lower(email) = lower(:login) OR lower(username) = lower(:login);

-- name: max_password_cost()^
-- One row: max_cost, the highest bcrypt cost among the stored hashes (NULL when there are
-- no users), which every failed login pays. The expression is users_password_cost_idx's,
-- so max() reads one entry from the top of that index instead of every row.
SELECT max(substring(password_hash FROM 5 FOR 2)::integer) AS max_cost
FROM users;

-- name: get_password_hash(user_id)^
-- The user's password_hash, or nothing when the user does not exist.
SELECT password_hash
FROM users
WHERE id = :user_id;

-- name: replace_password_hash(user_id, old_hash, password_hash)!
-- Row count: 1 when the hash was still old_hash and is now password_hash, 0 when the user
-- is gone or their hash changed meanwhile (a concurrent password change wins).
UPDATE users
SET password_hash = :password_hash
WHERE id = :user_id AND password_hash = :old_hash;

-- name: update_profile(user_id, email, username, set_display_name, display_name)^
-- The updated user, or nothing when the user does not exist. A NULL email or username keeps
-- the stored one; display_name is written (NULL clears it) only when set_display_name.
UPDATE users
SET
    email = coalesce(:email, email),
    username = coalesce(:username, username),
    display_name = CASE WHEN :set_display_name THEN :display_name ELSE display_name END
WHERE id = :user_id
RETURNING
    id,
    email,
    username,
    display_name,
    is_online,
    last_seen_at,
    created_at,
    updated_at;

-- name: set_online(user_id, is_online)^
-- The updated user, or nothing when the user does not exist. last_seen_at is stamped on
-- both transitions: going offline is the last moment they were seen online.
UPDATE users
SET
    is_online = :is_online,
    last_seen_at = now()
WHERE id = :user_id
RETURNING
    id,
    email,
    username,
    display_name,
    is_online,
    last_seen_at,
    created_at,
    updated_at;

-- name: delete_user(user_id)!
-- Row count: 1 when deleted, 0 when no such user. Their messages stay, sender cleared.
DELETE FROM users
WHERE id = :user_id;
