package envoy

import (
	"fmt"

	"github.com/pylon-gateway/pylon/internal/accesslog"
	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/filter"
	_ "github.com/pylon-gateway/pylon/internal/filter/cors"           // the cors filter
	_ "github.com/pylon-gateway/pylon/internal/filter/localratelimit" // the local_ratelimit filter
)

// check compiles what config.Load leaves to the runtime (the filters' configs and the
// access log formats), so that their errors name the Envoy field and its line rather than
// a field of the intermediate Pylon YAML. It builds no live object that outlives it.
func (t *translator) check(cfg *config.Config) config.Errors {
	var errs config.Errors
	add := func(pylon, format string, args ...any) {
		p, _ := t.envoyPath(pylon)
		errs = append(errs, config.FieldError{Path: orDoc(p), Line: t.c.line(p), Msg: fmt.Sprintf(format, args...)})
	}
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		pl := fmt.Sprintf("listeners[%d]", i)
		for j, al := range l.AccessLog {
			var err error
			if len(al.JSON) > 0 {
				_, err = accesslog.ParseJSON(al.JSON)
			} else {
				_, err = accesslog.ParseText(al.Format)
			}
			if err != nil {
				add(fmt.Sprintf("%s.access_log[%d]", pl, j), "access log format: %v", err)
			}
		}
		base := map[string]filter.Filter{}
		facs := map[string]filter.Factory{}
		for _, fc := range l.Filters {
			fac, ok := filter.Lookup(fc.Name)
			if !ok {
				continue // config.Load does not know filters; the runtime reports it
			}
			f, err := fac.New(fc.Config)
			if err != nil {
				add(pl+".filters."+fc.Name, "Pylon's %s filter: %v", fc.Name, err)
				continue
			}
			base[fc.Name], facs[fc.Name] = f, fac
		}
		for j := range l.VirtualHosts {
			for k := range l.VirtualHosts[j].Routes {
				r := &l.VirtualHosts[j].Routes[k]
				for _, name := range sortedKeys(r.Filters) {
					rp := fmt.Sprintf("%s.virtual_hosts[%d].routes[%d].filters.%s", pl, j, k, name)
					node := r.Filters[name]
					if off, err := filter.Disabled(node); err != nil || off {
						continue
					}
					prf, ok := facs[name].(filter.PerRouteFactory)
					if !ok {
						continue
					}
					if _, err := prf.PerRoute(base[name], node); err != nil {
						add(rp, "Pylon's %s filter: %v", name, err)
					}
				}
			}
		}
	}
	return errs
}
