// Package config reads Quaver's configuration from a YAML file, the
// environment (QUAVER_* and Laravel Reverb's REVERB_* names, also from a
// .env file) and flags, in that order of precedence, and validates it,
// listing every problem with the field it concerns.
//
// It imports only the standard library and third-party parsers.
package config
