package framework

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// NewWebhookPorts picks free ports for a webhook that is started later, so
// that its webhook configurations can be installed before it runs.
func NewWebhookPorts() (*Webhook, error) {
	w := &Webhook{}
	var err error
	for _, p := range []*int{&w.Port, &w.ProbePort, &w.MetricsPort} {
		if *p, err = FreePort(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// StartSelfManaged starts w with --cert-mode=self-managed: it issues its
// own certificates into the Secret namespace/secretName for 127.0.0.1 and
// localhost, and writes the CA into the webhook configurations named
// WebhookConfigName. w.CA stays nil. It waits until /readyz answers, which
// needs a certificate loaded.
func (w *Webhook) StartSelfManaged(ctx context.Context, cp *ControlPlane, bin, namespace, secretName string, extraArgs ...string) error {
	name := "webhook"
	if n := webhookCount.Add(1); n > 1 {
		name = fmt.Sprintf("webhook-%d", n)
	}
	args := append([]string{"webhook",
		"--kubeconfig", cp.Kubeconfig,
		"--port", strconv.Itoa(w.Port),
		"--cert-mode", "self-managed",
		"--cert-secret", namespace + "/" + secretName,
		"--cert-dns-names", "localhost,127.0.0.1",
		"--webhook-config-name", WebhookConfigName,
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(w.ProbePort),
		"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(w.MetricsPort),
		"--inventory-namespace", namespace,
		"--graceful-shutdown-timeout", "10s",
	}, extraArgs...)
	var err error
	if w.Process, err = StartProcess(cp.Dir, name, bin, args...); err != nil {
		return err
	}
	if err := w.WaitReady(ctx, 60*time.Second); err != nil {
		_ = w.Stop()
		return fmt.Errorf("%w\nwebhook log:\n%s", err, w.Log())
	}
	return nil
}
