package dsl

import "errors"

// Load reads, validates and normalises the configuration file at path.
func Load(path string) (*Plan, error) {
	return nil, errors.New("dsl: not built yet")
}
