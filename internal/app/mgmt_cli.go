package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/sqlstore"
)

// The management subcommands work on the store of a config's store.dsn directly, so they
// need no running gateway (and no admin token): whoever can read the config and the
// database is an administrator already. A running gateway sees their changes within
// store.poll_interval.
//
// Output is for scripts: stdout gets the one thing a command makes (an id, or the
// plaintext of a key or token), stderr a sentence for people.

const mgmtUsage = `Management commands (on the store of the config's store.dsn; no running gateway needed):
  pylon tenant create -c FILE [--display-name TEXT] NAME
  pylon tenant list -c FILE
  pylon app create -c FILE --tenant TENANT [--description TEXT] NAME
  pylon key create -c FILE --app APP [--tenant TENANT] [--name NAME] [--models m1,m2] [--expires 720h]
                                  prints the key once; it cannot be shown again
  pylon key revoke -c FILE KEY_ID
  pylon subscription approve -c FILE [--reason TEXT] SUBSCRIPTION_ID
  pylon subscription reject -c FILE [--reason TEXT] SUBSCRIPTION_ID
  pylon user create -c FILE --email EMAIL --role ROLE [--tenant TENANT] [--name NAME]
                                  ROLE: admin, tenant_admin, developer or viewer
  pylon user token -c FILE [--name NAME] [--expires 720h] USER
                                  prints a management API token (pu_...) for USER (id or email) once
  TENANT is a tenant's id or name, APP an application's id or (with --tenant) name.
  --dsn DSN instead of -c FILE names the store directly.
`

// mgmtCommand runs `pylon <noun> <verb> ...`.
func mgmtCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		fmt.Fprintf(stderr, "pylon %s: a subcommand is required\n\n%s", args[0], mgmtUsage)
		return 2
	}
	cmd := args[0] + " " + args[1]
	c := &mgmtCmd{name: "pylon " + cmd, stdout: stdout, stderr: stderr}
	c.fs = flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() { fmt.Fprint(stderr, mgmtUsage) }
	c.fs.StringVar(&c.config, "c", "", "config file")
	c.fs.StringVar(&c.config, "config", "", "config file")
	c.fs.StringVar(&c.dsn, "dsn", "", "store DSN")
	run, ok := map[string]func(*mgmtCmd) func(context.Context, store.Store) error{
		"tenant create":        tenantCreate,
		"tenant list":          tenantList,
		"app create":           appCreate,
		"key create":           keyCreate,
		"key revoke":           keyRevoke,
		"subscription approve": subscriptionDecide(store.SubApproved),
		"subscription reject":  subscriptionDecide(store.SubRejected),
		"user create":          userCreate,
		"user token":           userToken,
	}[cmd]
	if !ok {
		fmt.Fprintf(stderr, "pylon: unknown command %q\n\n%s", cmd, mgmtUsage)
		return 2
	}
	fn := run(c) // declares the command's flags
	if err := c.parse(args[2:]); err != nil {
		return 2
	}
	ctx := context.Background()
	st, err := c.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return 1
	}
	defer st.Close()
	if err := fn(ctx, st); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, strings.TrimPrefix(err.Error(), "store: "))
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
}

type mgmtCmd struct {
	name           string
	fs             *flag.FlagSet
	config, dsn    string
	args           []string
	stdout, stderr io.Writer
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// parse reads flags before and after the positional arguments: `pylon tenant create
// acme -c pylon.yaml` works as well as `pylon tenant create -c pylon.yaml acme`.
func (c *mgmtCmd) parse(args []string) error {
	for {
		if err := c.fs.Parse(args); err != nil {
			return err
		}
		if c.fs.NArg() == 0 {
			return nil
		}
		c.args = append(c.args, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
}

// arg returns the one positional argument, named what.
func (c *mgmtCmd) arg(what string) (string, error) {
	if len(c.args) != 1 {
		return "", usageError{fmt.Sprintf("want one argument, %s; got %d", what, len(c.args))}
	}
	return c.args[0], nil
}

func (c *mgmtCmd) open(ctx context.Context) (*sqlstore.DB, error) {
	dsn := c.dsn
	if dsn == "" {
		if c.config == "" {
			return nil, errors.New("a config is required: -c FILE (with store.dsn), or --dsn DSN")
		}
		cfg, err := loadFile(c.config)
		if err != nil {
			return nil, err
		}
		if cfg.Store == nil {
			return nil, fmt.Errorf("%s has no store: add store: {dsn: sqlite:/var/lib/pylon/pylon.db} (see docs/management.md)", c.config)
		}
		dsn = cfg.Store.DSN
	}
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return st, nil
}

func (c *mgmtCmd) done(out, format string, args ...any) {
	fmt.Fprintln(c.stdout, out)
	fmt.Fprintf(c.stderr, format+"\n", args...)
}

func tenantCreate(c *mgmtCmd) func(context.Context, store.Store) error {
	display := c.fs.String("display-name", "", "display name")
	return func(ctx context.Context, st store.Store) error {
		name, err := c.arg("the tenant's name")
		if err != nil {
			return err
		}
		t, err := st.CreateTenant(ctx, store.Tenant{Name: name, DisplayName: *display})
		if err != nil {
			return err
		}
		c.done(t.ID, "created tenant %s (%s)", t.Name, t.ID)
		return nil
	}
}

func tenantList(c *mgmtCmd) func(context.Context, store.Store) error {
	return func(ctx context.Context, st store.Store) error {
		opt := store.ListOptions{Limit: store.MaxLimit}
		for {
			page, err := st.ListTenants(ctx, opt)
			if err != nil {
				return err
			}
			for _, t := range page.Items {
				fmt.Fprintf(c.stdout, "%s\t%s\t%s\n", t.ID, t.Name, t.DisplayName)
			}
			if page.Next == "" {
				return nil
			}
			opt.Cursor = page.Next
		}
	}
}

// looksLikeID reports whether s is in the shape of the store's ids (a UUID).
func looksLikeID(s string) bool { return len(s) == 36 && strings.Count(s, "-") == 4 }

// findTenant resolves a tenant by id or name.
func findTenant(ctx context.Context, st store.Store, ref string) (store.Tenant, error) {
	if ref == "" {
		return store.Tenant{}, usageError{"--tenant is required"}
	}
	if looksLikeID(ref) {
		return st.GetTenant(ctx, ref)
	}
	opt := store.ListOptions{Limit: store.MaxLimit}
	for {
		page, err := st.ListTenants(ctx, opt)
		if err != nil {
			return store.Tenant{}, err
		}
		for _, t := range page.Items {
			if t.Name == ref {
				return t, nil
			}
		}
		if page.Next == "" {
			return store.Tenant{}, fmt.Errorf("no tenant named %q: %w", ref, store.ErrNotFound)
		}
		opt.Cursor = page.Next
	}
}

// findApp resolves an application by id, or by name within a tenant.
func findApp(ctx context.Context, st store.Store, ref, tenant string) (store.Application, error) {
	if ref == "" {
		return store.Application{}, usageError{"--app is required"}
	}
	if looksLikeID(ref) {
		return st.GetApplication(ctx, ref)
	}
	if tenant == "" {
		return store.Application{}, usageError{fmt.Sprintf("--app %q is a name: give its --tenant too, or the application's id", ref)}
	}
	t, err := findTenant(ctx, st, tenant)
	if err != nil {
		return store.Application{}, err
	}
	opt := store.ListOptions{Limit: store.MaxLimit}
	for {
		page, err := st.ListApplications(ctx, t.ID, opt)
		if err != nil {
			return store.Application{}, err
		}
		for _, a := range page.Items {
			if a.Name == ref {
				return a, nil
			}
		}
		if page.Next == "" {
			return store.Application{}, fmt.Errorf("no application named %q in tenant %s: %w", ref, t.Name, store.ErrNotFound)
		}
		opt.Cursor = page.Next
	}
}

func appCreate(c *mgmtCmd) func(context.Context, store.Store) error {
	tenant := c.fs.String("tenant", "", "tenant id or name")
	desc := c.fs.String("description", "", "description")
	return func(ctx context.Context, st store.Store) error {
		name, err := c.arg("the application's name")
		if err != nil {
			return err
		}
		t, err := findTenant(ctx, st, *tenant)
		if err != nil {
			return err
		}
		a, err := st.CreateApplication(ctx, store.Application{TenantID: t.ID, Name: name, Description: *desc})
		if err != nil {
			return err
		}
		c.done(a.ID, "created application %s (%s) in tenant %s", a.Name, a.ID, t.Name)
		return nil
	}
}

// expiry turns --expires (a duration from now) into a time; "" is no expiry.
func expiry(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return nil, usageError{fmt.Sprintf("--expires: want a positive duration like 720h, got %q", s)}
	}
	t := time.Now().Add(d).UTC()
	return &t, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func keyCreate(c *mgmtCmd) func(context.Context, store.Store) error {
	app := c.fs.String("app", "", "application id or name")
	tenant := c.fs.String("tenant", "", "tenant of --app given by name")
	name := c.fs.String("name", "", "key name")
	models := c.fs.String("models", "", "models the key may call, comma-separated (default: all)")
	expires := c.fs.String("expires", "", "lifetime, like 720h (default: no expiry)")
	return func(ctx context.Context, st store.Store) error {
		if len(c.args) != 0 {
			return usageError{fmt.Sprintf("unexpected argument %q", c.args[0])}
		}
		exp, err := expiry(*expires)
		if err != nil {
			return err
		}
		a, err := findApp(ctx, st, *app, *tenant)
		if err != nil {
			return err
		}
		k, plain, err := st.CreateKey(ctx, store.APIKey{ApplicationID: a.ID, Name: *name, ExpiresAt: exp, Scopes: store.Scopes{Models: splitList(*models)}})
		if err != nil {
			return err
		}
		c.done(plain, "created key %s (%s) for application %s; store it now: it is not shown again", k.Prefix, k.ID, a.Name)
		return nil
	}
}

func keyRevoke(c *mgmtCmd) func(context.Context, store.Store) error {
	return func(ctx context.Context, st store.Store) error {
		id, err := c.arg("the key's id")
		if err != nil {
			return err
		}
		k, err := st.GetKey(ctx, id)
		if err != nil {
			return err
		}
		if k, err = st.RevokeKey(ctx, id, k.Version); err != nil {
			return err
		}
		c.done(k.ID, "revoked key %s (%s)", k.Prefix, k.ID)
		return nil
	}
}

func subscriptionDecide(to store.SubscriptionState) func(c *mgmtCmd) func(context.Context, store.Store) error {
	return func(c *mgmtCmd) func(context.Context, store.Store) error {
		reason := c.fs.String("reason", "", "note kept with the decision")
		return func(ctx context.Context, st store.Store) error {
			id, err := c.arg("the subscription's id")
			if err != nil {
				return err
			}
			s, err := st.GetSubscription(ctx, id)
			if err != nil {
				return err
			}
			if s, err = st.SetSubscriptionState(ctx, id, to, *reason, s.Version); err != nil {
				return err
			}
			c.done(s.ID, "subscription %s is %s", s.ID, s.State)
			return nil
		}
	}
}

func userCreate(c *mgmtCmd) func(context.Context, store.Store) error {
	email := c.fs.String("email", "", "email (unique)")
	role := c.fs.String("role", "", "admin, tenant_admin, developer or viewer")
	tenant := c.fs.String("tenant", "", "tenant id or name (not for admins)")
	name := c.fs.String("name", "", "the person's name")
	return func(ctx context.Context, st store.Store) error {
		if len(c.args) != 0 {
			return usageError{fmt.Sprintf("unexpected argument %q", c.args[0])}
		}
		u := store.User{Email: *email, Role: store.Role(*role), Name: *name}
		if *tenant != "" {
			t, err := findTenant(ctx, st, *tenant)
			if err != nil {
				return err
			}
			u.TenantID = t.ID
		}
		u, err := st.CreateUser(ctx, u)
		if err != nil {
			return err
		}
		c.done(u.ID, "created user %s (%s), role %s", u.Email, u.ID, u.Role)
		return nil
	}
}

func userToken(c *mgmtCmd) func(context.Context, store.Store) error {
	name := c.fs.String("name", "", "token name")
	expires := c.fs.String("expires", "", "lifetime, like 720h (default: no expiry)")
	return func(ctx context.Context, st store.Store) error {
		ref, err := c.arg("the user's id or email")
		if err != nil {
			return err
		}
		exp, err := expiry(*expires)
		if err != nil {
			return err
		}
		var u store.User
		if strings.Contains(ref, "@") {
			u, err = st.GetUserByEmail(ctx, ref)
		} else {
			u, err = st.GetUser(ctx, ref)
		}
		if err != nil {
			return err
		}
		t, plain, err := st.CreateUserToken(ctx, store.UserToken{UserID: u.ID, Name: *name, ExpiresAt: exp})
		if err != nil {
			return err
		}
		c.done(plain, "created token %s (%s) for %s; store it now: it is not shown again", t.Prefix, t.ID, u.Email)
		return nil
	}
}
