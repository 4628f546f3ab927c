//! The eIDAS profile: attribute registry, LoA, SPType, PersonIdentifier and the validation rules.
