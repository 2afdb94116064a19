package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/imgpurge/imgpurge/internal/config"
)

// devAlgorithm signs development tokens, whatever auth.algorithms says: the
// dev key is always P-256.
const devAlgorithm = "ES256"

// DevKeyPath is where the development signing key lives under dataDir.
func DevKeyPath(dataDir string) string {
	return filepath.Join(dataDir, "keys", "dev-signing-key.pem")
}

// devKey is the development key pair and its key id.
type devKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func (v *Verifier) initDev(dataDir string) error {
	k, err := loadDevKey(dataDir)
	if err != nil {
		return err
	}
	v.issuer = config.DevIssuer
	keys := &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{k.priv.Public()}}
	v.useKeySet(keys, []string{devAlgorithm})
	return nil
}

// loadDevKey reads the development key, creating it on first use.
func loadDevKey(dataDir string) (*devKey, error) {
	path := DevKeyPath(dataDir)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw, err = createDevKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: development key: %w", err)
	}
	return parseDevKey(path, raw)
}

// createDevKey writes a new key without ever exposing a half-written or
// world-readable file: it goes to a private temporary file first and is
// linked into place, and if another process won the race its key is used.
func createDevKey(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	raw, err := newDevKeyPEM()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-signing-key-*") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	} else if err != nil {
		return nil, err
	}
	return raw, nil
}

func newDevKeyPEM() ([]byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseDevKey(path string, raw []byte) (*devKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("auth: %s holds no PEM private key", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	priv, ok := key.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("auth: %s is not a P-256 key", path)
	}
	// The RFC 7638 thumbprint names the key the same way every time.
	pub := jose.JSONWebKey{Key: priv.Public()}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &devKey{priv: priv, kid: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// MintDev mints a development token signed with the key under dataDir,
// creating the key if absent. The token carries what a dev-mode Verifier
// with the same cfg accepts: iss config.DevIssuer, aud cfg.Audience, the
// tenants under cfg.TenantClaim and the required scope or role, if any.
func MintDev(cfg config.Auth, dataDir, subject string, tenants []string,
	ttl time.Duration) (string, error) {
	cfg = cfg.WithDefaults()
	switch {
	case cfg.Audience == "":
		return "", errors.New("auth.audience: required to mint a token")
	case ttl <= 0:
		return "", fmt.Errorf("auth: token lifetime must be positive, not %s", ttl)
	}
	k, err := loadDevKey(dataDir)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(devClaims(cfg, subject, tenants, time.Now(), ttl))
	if err != nil {
		return "", err
	}
	return signES256(k, payload)
}

func devClaims(cfg config.Auth, subject string, tenants []string,
	now time.Time, ttl time.Duration) map[string]any {
	claims := map[string]any{
		"iss": config.DevIssuer,
		"aud": cfg.Audience,
		"sub": subject,
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": uuid.NewString(),
	}
	if len(tenants) > 0 {
		setClaim(claims, cfg.TenantClaim, tenants)
	}
	if cfg.RequiredClaim != "" {
		// scope is conventionally a space-separated string, roles an array;
		// the verifier accepts either, so mint what a real issuer would.
		var v any = []string{cfg.RequiredValue}
		if cfg.RequiredClaim == "scope" {
			v = cfg.RequiredValue
		}
		setClaim(claims, cfg.RequiredClaim, v)
	}
	return claims
}

func signES256(k *devKey, payload []byte) (string, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: devAlgorithm, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
