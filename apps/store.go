package apps

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotFound is returned when no app has the given key or id.
var ErrNotFound = errors.New("apps: not found")

// Store looks apps up. Implementations must be safe for concurrent use and
// return apps that callers treat as read-only.
type Store interface {
	ByKey(ctx context.Context, key string) (*App, error)
	ByID(ctx context.Context, id string) (*App, error)
	// All lists every app, for housekeeping that spans apps.
	All(ctx context.Context) ([]*App, error)
}

// Static is a Store over a fixed list of apps, as read from configuration.
type Static struct {
	byKey map[string]*App
	byID  map[string]*App
	list  []*App
}

// NewStatic indexes apps by key and id; both must be unique.
func NewStatic(list []App) (*Static, error) {
	s := &Static{byKey: make(map[string]*App, len(list)), byID: make(map[string]*App, len(list))}
	for i := range list {
		app := list[i]
		app.Defaults()
		if _, dup := s.byKey[app.Key]; dup {
			return nil, fmt.Errorf("apps: duplicate key %q", app.Key)
		}
		if _, dup := s.byID[app.ID]; dup {
			return nil, fmt.Errorf("apps: duplicate id %q", app.ID)
		}
		s.byKey[app.Key] = &app
		s.byID[app.ID] = &app
		s.list = append(s.list, &app)
	}
	return s, nil
}

// ByKey implements Store.
func (s *Static) ByKey(_ context.Context, key string) (*App, error) {
	if a, ok := s.byKey[key]; ok {
		return a, nil
	}
	return nil, ErrNotFound
}

// ByID implements Store.
func (s *Static) ByID(_ context.Context, id string) (*App, error) {
	if a, ok := s.byID[id]; ok {
		return a, nil
	}
	return nil, ErrNotFound
}

// All implements Store.
func (s *Static) All(context.Context) ([]*App, error) { return s.list, nil }
