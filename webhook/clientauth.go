package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// RequireClientCertificates returns the TLS option that makes the webhook
// server require a client certificate signed by one of the CAs in the PEM
// file caFile (--client-ca-file), so that only a caller holding such a
// certificate, the API server configured with a WebhookAdmissionConfiguration
// (docs/security.md), gets a review answered. The file is read once, here:
// a changed CA takes a restart. The metrics and probe servers do not use it.
func RequireClientCertificates(caFile string) (func(*tls.Config), error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--client-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--client-ca-file %s holds no PEM certificate: give the CA certificate(s) that sign the API server's webhook client certificate", caFile)
	}
	return func(c *tls.Config) {
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}, nil
}
