//! The replay and session store (see the store helper's files).
