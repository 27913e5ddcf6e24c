package mgmt

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/pylon-gateway/pylon/internal/store"
)

// The OpenAPI document is generated from the route table and the Go types of the
// bodies, so that it cannot drift from what the mux serves (TestOpenAPICoversRoutes
// checks it both ways, by probing the handler with every documented operation).

// enums lists the values of the store's named string types.
var enums = map[reflect.Type][]string{
	reflect.TypeOf(store.Role("")):              {"admin", "tenant_admin", "developer", "viewer"},
	reflect.TypeOf(store.Lifecycle("")):         {"draft", "published", "deprecated", "retired"},
	reflect.TypeOf(store.SubscriptionState("")): {"pending", "approved", "rejected", "revoked"},
	reflect.TypeOf(store.LimitScope("")):        {"key", "application", "tenant"},
	reflect.TypeOf(store.LimitKind("")):         {"requests_per_minute", "tokens_per_minute", "concurrent", "spend"},
	reflect.TypeOf(store.LimitUnit("")):         {"tokens", "picodollars"},
	reflect.TypeOf(store.Period("")):            {"day", "month"},
}

// readOnly are fields the server sets; a body may carry them (a GET's answer sent back),
// and they are ignored.
var readOnly = map[string]bool{"id": true, "created_at": true, "updated_at": true, "version": true}

// schemaNames names the component schemas.
var schemaNames = map[reflect.Type]string{
	reflect.TypeOf(store.Tenant{}):       "Tenant",
	reflect.TypeOf(store.User{}):         "User",
	reflect.TypeOf(store.UserToken{}):    "UserToken",
	reflect.TypeOf(store.Application{}):  "Application",
	reflect.TypeOf(store.APIKey{}):       "APIKey",
	reflect.TypeOf(store.Scopes{}):       "Scopes",
	reflect.TypeOf(store.API{}):          "API",
	reflect.TypeOf(store.Subscription{}): "Subscription",
	reflect.TypeOf(store.Limit{}):        "Limit",
	reflect.TypeOf(store.PromptAPI{}):    "PromptAPI",
	reflect.TypeOf(createdKey{}):         "CreatedAPIKey",
	reflect.TypeOf(createdToken{}):       "CreatedUserToken",
	reflect.TypeOf(me{}):                 "Me",
	reflect.TypeOf(lifecycleRequest{}):   "LifecycleRequest",
	reflect.TypeOf(decisionRequest{}):    "DecisionRequest",
	reflect.TypeOf(errorBody{}):          "Error",
	reflect.TypeOf(errorDetail{}):        "ErrorDetail",
}

type schemaBuilder struct{ components map[string]any }

// ref returns the schema of t, adding named structs to the components.
func (b *schemaBuilder) ref(t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if vals, ok := enums[t]; ok {
		return map[string]any{"type": "string", "enum": vals}
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"type": "object", "description": "a JSON Schema object"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": b.ref(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object"}
	case reflect.Struct:
		name, ok := schemaNames[t]
		if !ok {
			return b.object(t)
		}
		if _, done := b.components[name]; !done {
			b.components[name] = nil // recursion guard
			b.components[name] = b.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (b *schemaBuilder) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	for name, f := range jsonFields(t) {
		s := b.ref(f.Type)
		if readOnly[name] {
			s = map[string]any{"allOf": []any{s}, "readOnly": true}
		}
		props[name] = s
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}

var (
	docOnce sync.Once
	docJSON []byte
)

// document builds the OpenAPI 3.1 document of routes.
func document(routes []route) map[string]any {
	b := &schemaBuilder{components: map[string]any{}}
	errRef := b.ref(reflect.TypeOf(errorBody{}))
	errResp := func(desc string) any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
	}
	paths := map[string]any{}
	for _, rt := range routes {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		var params []any
		for _, seg := range strings.Split(rt.path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			}
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]any{"type": "string"}})
		}
		if rt.method == "PUT" || rt.method == "PATCH" || rt.method == "DELETE" {
			params = append(params, map[string]any{"name": "If-Match", "in": "header", "required": true,
				"description": `the ETag of the object as read ("3"), or * to skip the check`, "schema": map[string]any{"type": "string"}})
		} else if rt.method == "POST" && strings.Contains(rt.path, "{id}") {
			params = append(params, map[string]any{"name": "If-Match", "in": "header",
				"description": "when sent, the action applies only to this version (412 otherwise)", "schema": map[string]any{"type": "string"}})
		}
		status := rt.status
		if status == 0 {
			status = http.StatusOK
		}
		responses := map[string]any{}
		switch {
		case status == http.StatusNoContent:
			responses["204"] = map[string]any{"description": "done"}
		case rt.list:
			responses["200"] = map[string]any{"description": "one page", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
				"type": "object", "required": []string{"data"},
				"properties": map[string]any{
					"data":        map[string]any{"type": "array", "items": b.ref(typeOf(rt.resp))},
					"next_cursor": map[string]any{"type": "string", "description": "absent on the last page"},
				}}}}}
		default:
			responses[itoa(status)] = map[string]any{"description": http.StatusText(status),
				"headers": map[string]any{"ETag": map[string]any{"schema": map[string]any{"type": "string"}}},
				"content": map[string]any{"application/json": map[string]any{"schema": b.ref(typeOf(rt.resp))}}}
		}
		if !rt.public {
			responses["400"] = errResp("invalid input: malformed JSON, an unknown field, a wrong type or a bad value; error.field names it")
			responses["401"] = errResp("no token, or not a valid one")
			responses["403"] = errResp("the caller's role may not do this")
			responses["404"] = errResp("no such object, or one of another tenant")
			if rt.method != "GET" {
				responses["409"] = errResp("a name is taken, the object is still referenced, or the state does not allow it")
				responses["412"] = errResp("If-Match names a version that is no longer current")
			}
			if rt.body != nil {
				responses["413"] = errResp("the body is larger than the limit")
				responses["415"] = errResp("the body is not JSON")
			}
			if rt.method == "PUT" || rt.method == "PATCH" || rt.method == "DELETE" {
				responses["428"] = errResp("If-Match is missing")
			}
		}
		op := map[string]any{
			"operationId": rt.op,
			"summary":     rt.summary,
			"description": "Who may: " + rt.access + ".",
			"tags":        []string{tag(rt.path)},
			"responses":   responses,
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.public {
			op["security"] = []any{}
		}
		if rt.body != nil {
			ct := "application/json"
			if rt.method == "PATCH" {
				ct = "application/merge-patch+json"
			}
			op["requestBody"] = map[string]any{"required": !rt.bodyOptional,
				"content": map[string]any{ct: map[string]any{"schema": b.ref(typeOf(rt.body))}}}
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Pylon management API",
			"version":     "v1",
			"description": "Tenants, users, applications, API keys, the API catalog, subscriptions, limits and prompt APIs. See docs/management.md.",
		},
		"servers":    []any{map[string]any{"url": "/"}},
		"security":   []any{map[string]any{"bearer": []any{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": b.components, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "the admin token (admin.token or PYLON_ADMIN_TOKEN) or a user token (pu_...)"}}},
		"tags":       tags(routes),
	}
}

func tag(path string) string {
	rest := strings.TrimPrefix(path, Prefix+"/")
	t, _, _ := strings.Cut(rest, "/")
	return t
}

func tags(routes []route) []any {
	seen := map[string]bool{}
	var names []string
	for _, rt := range routes {
		if t := tag(rt.path); !seen[t] {
			seen[t] = true
			names = append(names, t)
		}
	}
	sort.Strings(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = map[string]any{"name": n}
	}
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (s *server) openAPI(w http.ResponseWriter, r *http.Request, _ principal) error {
	docOnce.Do(func() {
		docJSON, _ = json.MarshalIndent(document(s.routes), "", "  ")
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(docJSON)
	return nil
}
