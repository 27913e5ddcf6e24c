package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// created is the created time of every model entry: Pylon's models are config, not
// releases, so the time the process started stands in.
var created = time.Now().Unix()

// serveModels answers GET /v1/models from the route table: the models this route lets
// callers use, never the providers' own lists.
func (g *Gateway) serveModels(w http.ResponseWriter, who *caller) {
	list := openai.ModelList{Object: "list", Data: []openai.Model{}}
	for _, name := range g.router.models() {
		if who.allows(name) {
			list.Data = append(list.Data, openai.Model{ID: name, Object: "model", Created: created, OwnedBy: g.owner(name)})
		}
	}
	writeJSON(w, list)
}

// serveModel answers GET /v1/models/{id}.
func (g *Gateway) serveModel(w http.ResponseWriter, id string, who *caller) {
	if !who.allows(id) || len(g.router.plan(id, time.Now())) == 0 {
		openaiDialect.WriteError(w, modelNotFound(id))
		return
	}
	writeJSON(w, openai.Model{ID: id, Object: "model", Created: created, OwnedBy: g.owner(id)})
}

// owner is the provider of a model's first target, or "pylon" for a model route.
func (g *Gateway) owner(name string) string {
	if g.router.routes[name] != nil {
		return "pylon"
	}
	if ts := g.router.byModel[name]; len(ts) > 0 {
		return ts[0].provider.name
	}
	return "pylon"
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		openaiDialect.WriteError(w, llm.Errorf(llm.KindInternal, "encoding the answer: %v", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
