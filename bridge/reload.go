package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"sync/atomic"

	"github.com/cortexbridge/cortex-bridge/config"
)

// errNoConfigPath refuses a reload of a bridge built without Options.ConfigPath.
var errNoConfigPath = errors.New("reload: the bridge was started without a config file")

// Reload re-reads the config file (Options.ConfigPath) and the TLS certificate. An invalid
// config is refused (its errors logged and returned) and the running one stays; a valid one
// replaces targets, routes, digests, templates, ingest policy, API keys and the registered
// webhooks' guard, while running deliveries finish with the config they started with. Keys
// that need a restart are logged.
func (b *Bridge) Reload(ctx context.Context) error {
	b.reloading.Lock()
	defer b.reloading.Unlock()
	if b.cert != nil {
		if err := b.cert.reload(); err != nil {
			b.log.Error("TLS certificate not reloaded; the current one stays", "err", err)
		} else {
			b.log.Info("TLS certificate reloaded")
		}
	}
	path := b.opts.ConfigPath
	if path == "" {
		b.metrics.Reload(false)
		return errNoConfigPath
	}
	cfg, err := config.Load(path)
	var rt *config.Runtime
	if err == nil {
		rt, err = config.Build(cfg, config.BuildOptions{Version: b.opts.Version, Log: b.log})
	}
	if err != nil {
		b.metrics.Reload(false)
		b.log.Error("config reload refused; the running config stays", "config", path, "err", err)
		return err
	}
	for _, w := range rt.Warnings {
		b.log.Warn(w)
	}
	rt.Router.OnRuleError = b.metrics.RuleError
	b.mu.Lock()
	for _, key := range b.started.RestartKeys(cfg) {
		b.log.Warn("config change needs a restart to take effect", "key", key)
	}
	b.cfg, b.runtime = cfg, rt
	b.mu.Unlock()
	b.hooks.Configure(apiGuard(cfg))
	if err := b.hooks.Replan(ctx); err != nil { // the new config's plan plus the registered webhooks
		b.log.Warn("registered webhooks not reloaded; the watcher retries", "err", err)
	}
	b.ingest.Update(b.ingestConfig(cfg))
	b.bus.SetMaxPending(cfg.Ingest.MaxPending)
	b.keys.Set(cfg.APIKeys(), cfg.APIAdmins()...)
	if err := b.sched.Sync(ctx); err != nil {
		b.log.Warn("digest schedules not updated yet; retried at the next reload or restart", "err", err)
	}
	b.metrics.Reload(true)
	b.log.Info("config reloaded", "config", path, "targets", len(rt.Targets), "routes", len(rt.Router.Routes), "digests", len(rt.Router.Digests))
	return nil
}

// certificate is a TLS key pair that a reload can replace while connections use the old one.
type certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	return c, c.reload()
}

func (c *certificate) reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return err
	}
	c.cur.Store(&pair)
	return nil
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }
