package certs

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Keys of the Secret. ca.crt is the CA bundle the API server trusts: the
// CA that signs (its key is ca.key) first, then older CAs that are still
// valid, kept while the webhook configurations switch over.
const (
	CACertKey  = "ca.crt"
	CAKeyKey   = "ca.key"
	TLSCertKey = "tls.crt"
	TLSKeyKey  = "tls.key"
)

// caCommonName names the CA in its subject.
const caCommonName = "seccomp-guard-webhook-ca"

// backdate makes a new certificate valid a little before it was issued, so
// that an API server whose clock runs behind ours accepts it too.
const backdate = time.Minute

// keyPair is a parsed certificate and its private key.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// issue signs a certificate for spec with a new ECDSA P-256 key, by signer
// (nil: self-signed), valid from now-backdate until now+validity (but never
// past the signer's expiry).
func issue(spec cmapi.CertificateSpec, signer *keyPair, now time.Time, validity time.Duration) (*keyPair, error) {
	key, err := pki.GenerateECPrivateKey(pki.ECCurve256)
	if err != nil {
		return nil, fmt.Errorf("generating a private key: %w", err)
	}
	spec.Duration = &metav1.Duration{Duration: validity}
	tmpl, err := pki.CertificateTemplateFromCertificate(&cmapi.Certificate{Spec: spec})
	if err != nil {
		return nil, fmt.Errorf("building the certificate template: %w", err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)); err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(validity)
	issuerCert, issuerKey := tmpl, crypto.Signer(key)
	if signer != nil {
		issuerCert, issuerKey = signer.cert, signer.key
		if tmpl.NotAfter.After(signer.cert.NotAfter) {
			tmpl.NotAfter = signer.cert.NotAfter
		}
	}
	certPEM, cert, err := pki.SignCertificate(tmpl, issuerCert, key.Public(), issuerKey)
	if err != nil {
		return nil, fmt.Errorf("signing the certificate: %w", err)
	}
	keyPEM, err := pki.EncodePrivateKey(key, cmapi.PKCS8)
	if err != nil {
		return nil, fmt.Errorf("encoding the private key: %w", err)
	}
	return &keyPair{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// newCA issues a self-signed CA.
func newCA(now time.Time, validity time.Duration) (*keyPair, error) {
	return issue(cmapi.CertificateSpec{
		CommonName: caCommonName,
		IsCA:       true,
		Usages:     []cmapi.KeyUsage{cmapi.UsageCertSign, cmapi.UsageCRLSign, cmapi.UsageDigitalSignature},
	}, nil, now, validity)
}

// newServing issues a serving certificate for names (DNS names, and IP
// addresses as IP SANs), signed by ca.
func newServing(ca *keyPair, names []string, now time.Time, validity time.Duration) (*keyPair, error) {
	dnsNames, ips := splitNames(names)
	spec := cmapi.CertificateSpec{
		DNSNames:    dnsNames,
		IPAddresses: ips,
		Usages:      []cmapi.KeyUsage{cmapi.UsageServerAuth, cmapi.UsageDigitalSignature},
	}
	// A common name is limited to 64 characters; the SANs are what clients check.
	if len(dnsNames) > 0 && len(dnsNames[0]) <= 64 {
		spec.CommonName = dnsNames[0]
	}
	return issue(spec, ca, now, validity)
}

// splitNames separates IP addresses from DNS names.
func splitNames(names []string) (dnsNames, ips []string) {
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip.String())
		} else {
			dnsNames = append(dnsNames, n)
		}
	}
	return dnsNames, ips
}

// sameNames reports whether cert is valid for exactly names.
func sameNames(cert *x509.Certificate, names []string) bool {
	wantDNS, wantIPs := splitNames(names)
	gotIPs := pki.IPAddressesToString(cert.IPAddresses)
	return setEqual(cert.DNSNames, wantDNS) && setEqual(gotIPs, wantIPs)
}

func setEqual(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// parseKeyPair parses a PEM certificate (the first of certPEM) and its key.
func parseKeyPair(certPEM, keyPEM []byte) (*keyPair, error) {
	certs, err := pki.DecodeX509CertificateSetBytes(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := pki.DecodePrivateKeyBytes(keyPEM)
	if err != nil {
		return nil, err
	}
	if ok, err := pki.PublicKeyMatchesCertificate(key.Public(), certs[0]); err != nil || !ok {
		return nil, fmt.Errorf("the private key does not belong to the certificate")
	}
	return &keyPair{cert: certs[0], key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// encodeBundle encodes CA certificates into one PEM bundle.
func encodeBundle(cas []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range cas {
		pem, _ := pki.EncodeX509(c) // writing PEM to a buffer does not fail
		b.Write(pem)
	}
	return b.Bytes()
}

// servingKeyPair turns PEM data into what tls.Config serves.
func servingKeyPair(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if pair.Leaf == nil { // GODEBUG=x509keypairleaf=0
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return &pair, nil
}
