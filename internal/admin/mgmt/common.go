package mgmt

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/store"
)

// me is the answer of GET /me.
type me struct {
	Role     store.Role  `json:"role"`
	TenantID string      `json:"tenant_id,omitempty"`
	User     *store.User `json:"user,omitempty"` // absent for the administrator token
}

// lifecycleRequest is the body of POST .../lifecycle.
type lifecycleRequest struct {
	Lifecycle store.Lifecycle `json:"lifecycle"`
}

// decisionRequest is the optional body of a subscription's approve, reject or revoke.
type decisionRequest struct {
	Reason string `json:"reason,omitempty"`
}

// createdKey is an API key with its plaintext, the answer of POST /keys only.
type createdKey struct {
	store.APIKey
	Key string `json:"key"`
}

// createdToken is a user token with its plaintext, the answer of POST .../tokens only.
type createdToken struct {
	store.UserToken
	Token string `json:"token"`
}

func (s *server) getMe(w http.ResponseWriter, r *http.Request, p principal) error {
	out := me{Role: p.role, TenantID: p.tenantID}
	if p.userID != "" {
		u, err := s.st.GetUser(r.Context(), p.userID)
		if err != nil {
			return err
		}
		out.User = &u
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// decode reads a body into v strictly; an empty optional body leaves v as it is.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any, required bool) error {
	b, err := readBody(w, r, s.opts.MaxBody, required)
	if err != nil {
		return err
	}
	if !required && len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeStrict(b, v)
}

// edit reads the new state of cur from a PUT (a full replacement of the writable
// fields) or a PATCH (a merge patch of cur).
func edit[T any](s *server, w http.ResponseWriter, r *http.Request, cur T) (T, error) {
	var next T
	b, err := readBody(w, r, s.opts.MaxBody, true)
	if err != nil {
		return next, err
	}
	if r.Method == http.MethodPatch {
		err = mergePatch(cur, b, &next)
	} else {
		err = decodeStrict(b, &next)
	}
	return next, err
}

// sameID refuses a body whose id names another object than the path.
func sameID(m store.Meta, id string) error {
	if m.ID != "" && m.ID != id {
		return store.Invalid("id", "is %q in the path; it cannot change", id)
	}
	return nil
}

func created(w http.ResponseWriter, path string, v any, m store.Meta) {
	w.Header().Set("Location", path+"/"+m.ID)
	writeObject(w, http.StatusCreated, v, m.Version)
}

// show writes one object for a GET, or 304 when If-None-Match names its version.
func show(w http.ResponseWriter, r *http.Request, v any, version int64) {
	if notModified(r, version) {
		w.Header().Set("ETag", etag(version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeObject(w, http.StatusOK, v, version)
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// noRef is the error of a reference to an object that is missing or that the caller may
// not see: the same words as the store's, so that the two cannot be told apart.
func noRef(field, kind, id string) error {
	return store.Invalid(field, "no %s with id %q", kind, id)
}

// tenantFor returns the tenant a non-admin's new object goes to: theirs, whether the
// body names it or not. An admin must name one.
func tenantFor(p principal, given string) (string, error) {
	if p.admin() {
		return given, nil
	}
	if given == "" || given == p.tenantID {
		return p.tenantID, nil
	}
	return "", noRef("tenant_id", "tenant", given)
}

// tenantFilter is the tenant a list is narrowed to: ?tenant_id= for admins (empty: all),
// the caller's own for everyone else.
func tenantFilter(r *http.Request, p principal) (string, error) {
	return tenantFor(p, r.URL.Query().Get("tenant_id"))
}

// jsonEqual compares two JSON texts without regard to insignificant whitespace.
func jsonEqual(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
