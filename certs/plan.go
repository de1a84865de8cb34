package certs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

// state is what the Secret holds, parsed.
type state struct {
	ca      *keyPair            // signs serving certificates; first in the bundle
	bundle  []*x509.Certificate // ca.crt: the signing CA, then older CAs still trusted
	serving *keyPair
}

// parseState reads the Secret's data. A missing or broken part comes back
// nil, with the reason, so that plan issues it again.
func parseState(data map[string][]byte) (*state, []string) {
	s := &state{}
	var problems []string
	if ca, err := parseKeyPair(data[CACertKey], data[CAKeyKey]); err != nil {
		problems = append(problems, fmt.Sprintf("%s/%s: %v", CACertKey, CAKeyKey, err))
	} else if !ca.cert.IsCA {
		problems = append(problems, CACertKey+": the first certificate is not a CA")
	} else {
		s.ca = ca
		s.bundle, _ = pki.DecodeX509CertificateSetBytes(data[CACertKey])
	}
	if serving, err := parseKeyPair(data[TLSCertKey], data[TLSKeyKey]); err != nil {
		problems = append(problems, fmt.Sprintf("%s/%s: %v", TLSCertKey, TLSKeyKey, err))
	} else {
		s.serving = serving
	}
	return s, problems
}

// signedBy reports whether cert was signed by ca.
func signedBy(cert, ca *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, ca.RawSubject) && cert.CheckSignatureFrom(ca) == nil
}

// trusted reports whether some CA of the bundle signed cert.
func trusted(cert *x509.Certificate, bundle []*x509.Certificate) bool {
	return slices.ContainsFunc(bundle, func(ca *x509.Certificate) bool { return signedBy(cert, ca) })
}

// plan is the outcome of comparing the Secret with what it should hold.
type plan struct {
	// data is the Secret's new data; nil when it is up to date.
	data map[string][]byte
	// reasons say why data changed, for the log.
	reasons []string
	// next is when to look again (a renewal falls due).
	next time.Time
}

// planSecret decides what the Secret should hold at now. configsTrustCA
// reports whether both webhook configurations carry the Secret's current
// bundle: the serving certificate moves to a new CA only once they do and
// the API server has had caPropagation to notice.
func planSecret(data map[string][]byte, opts *Options, now time.Time, configsTrustCA bool) (*plan, error) {
	s, problems := parseState(data)
	p := &plan{reasons: problems}
	changed := false

	// The CA: a new one when it is missing or nears its expiry. The old one
	// stays in the bundle until it expires, since the serving certificate
	// it signed is still in use until the webhook configurations trust the new CA.
	if s.ca == nil || !now.Before(s.ca.cert.NotAfter.Add(-opts.CARenewBefore)) {
		if s.ca != nil {
			p.reasons = append(p.reasons, fmt.Sprintf("the CA expires at %s, within %s", s.ca.cert.NotAfter.UTC().Format(time.RFC3339), opts.CARenewBefore))
		}
		ca, err := newCA(now, opts.CAValidity)
		if err != nil {
			return nil, fmt.Errorf("issuing a CA: %w", err)
		}
		bundle := []*x509.Certificate{ca.cert}
		if s.ca != nil {
			bundle = append(bundle, s.bundle...)
		}
		s.ca, s.bundle, changed = ca, bundle, true
		configsTrustCA = false
	}
	settlesAt := s.ca.cert.NotBefore.Add(backdate + caPropagation)
	caSettled := configsTrustCA && !now.Before(settlesAt)
	// Drop expired CAs from the bundle, never the signing one.
	kept := []*x509.Certificate{s.ca.cert}
	for _, c := range s.bundle[1:] {
		if now.Before(c.NotAfter) && !c.Equal(s.ca.cert) {
			kept = append(kept, c)
		}
	}
	if len(kept) != len(s.bundle) {
		changed = true
	}
	s.bundle = kept

	// The serving certificate.
	renewAt := func(k *keyPair) time.Time { return k.cert.NotAfter.Add(-opts.RenewBefore) }
	switch {
	case s.serving == nil:
		changed = true
	case !now.Before(renewAt(s.serving)):
		p.reasons = append(p.reasons, fmt.Sprintf("the serving certificate expires at %s, within %s", s.serving.cert.NotAfter.UTC().Format(time.RFC3339), opts.RenewBefore))
		s.serving = nil
	case !sameNames(s.serving.cert, opts.DNSNames):
		p.reasons = append(p.reasons, fmt.Sprintf("the serving certificate is for %v, not %v", append(s.serving.cert.DNSNames, pki.IPAddressesToString(s.serving.cert.IPAddresses)...), opts.DNSNames))
		s.serving = nil
	case !trusted(s.serving.cert, s.bundle):
		p.reasons = append(p.reasons, "the serving certificate was not signed by a CA of the bundle")
		s.serving = nil
	case !signedBy(s.serving.cert, s.ca.cert) && caSettled:
		p.reasons = append(p.reasons, "the serving certificate moves to the new CA")
		s.serving = nil
	case !signedBy(s.serving.cert, s.ca.cert):
		// Waits until the webhook configurations trust the new CA.
		p.next = settlesAt
		if !now.Before(settlesAt) {
			p.next = now.Add(caPropagation) // the configurations are being patched
		}
	}
	if s.serving == nil {
		serving, err := newServing(s.ca, opts.DNSNames, now, opts.Validity)
		if err != nil {
			return nil, fmt.Errorf("issuing the serving certificate: %w", err)
		}
		s.serving, changed = serving, true
	}

	next := minTime(renewAt(s.serving), s.ca.cert.NotAfter.Add(-opts.CARenewBefore))
	for _, c := range s.bundle[1:] {
		next = minTime(next, c.NotAfter)
	}
	if p.next.IsZero() || next.Before(p.next) {
		p.next = next
	}
	if changed {
		p.data = map[string][]byte{
			CACertKey:  encodeBundle(s.bundle),
			CAKeyKey:   s.ca.keyPEM,
			TLSCertKey: s.serving.certPEM,
			TLSKeyKey:  s.serving.keyPEM,
		}
	}
	return p, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
