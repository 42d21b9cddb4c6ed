package api

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// The verification keys of an issuer are held by github.com/MicahParks/jwkset
// and handed to golang-jwt by github.com/MicahParks/keyfunc: fetching,
// caching, periodic refresh and the rate-limited refresh on an unknown key id
// are theirs. What is the hub's is RFC 8725 practice on top (keySet.keyfunc):
// each key is pinned to the one algorithm its type allows (EdDSA for Ed25519,
// ES256 for P-256, RS256 for RSA of 2,048 bits or more), whatever the token's
// header or the JWK's "alg" says.

// MinRSABits is the smallest RSA modulus accepted (RFC 8725 3.5, NIST SP
// 800-131A).
const MinRSABits = 2048

// JWKS refresh defaults: a remote key set is fetched again every
// JWKSRefresh, and at most once per JWKSUnknownKIDRefresh when a token names a
// key id it does not hold (a provider that rotated its key). A refresh that
// fails keeps the keys held, so that a provider that is down does not stop
// tokens signed with cached keys until they expire.
const (
	JWKSRefresh           = 10 * time.Minute
	JWKSUnknownKIDRefresh = time.Minute
)

// maxJWKSBytes bounds a fetched key set or discovery document.
const maxJWKSBytes = 1 << 20

// KeySet is the set of keys an issuer's tokens may be signed with: fixed (the
// development key, a JWKS file) or fetched from a JWKS URL and kept fresh.
type KeySet struct {
	storage jwkset.Storage
	kf      keyfunc.Keyfunc
	source  string // for errors: the file or URL
}

// newKeySet wraps a storage.
func newKeySet(storage jwkset.Storage, source string) (*KeySet, error) {
	kf, err := keyfunc.New(keyfunc.Options{Storage: storage, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
	if err != nil {
		return nil, err
	}
	return &KeySet{storage: storage, kf: kf, source: source}, nil
}

// DevKeys returns the key set of a development signing key: its public key,
// EdDSA, named by KeyID.
func DevKeys(priv ed25519.PrivateKey) *KeySet {
	pub := priv.Public().(ed25519.PublicKey)
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: KeyID(pub), ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig}})
	if err != nil {
		panic("api: an Ed25519 key does not make a JWK: " + err.Error()) // cannot happen
	}
	st := jwkset.NewMemoryStorage()
	_ = st.KeyWrite(context.Background(), jwk)
	ks, err := newKeySet(st, "the development key")
	if err != nil {
		panic("api: " + err.Error())
	}
	return ks
}

// ParseJWKS reads a JSON Web Key Set. It keeps the keys of the accepted types
// (OKP Ed25519, EC P-256, RSA), skips those of other types (a symmetric key
// among them), and returns an error naming the key when one is malformed, is
// an RSA key under MinRSABits, or has an "alg" its type does not allow, and
// when no usable key is left.
func ParseJWKS(b []byte) (*KeySet, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	st := jwkset.NewMemoryStorage()
	for i, m := range set.Keys {
		if m.KTY != jwkset.KtyOKP && m.KTY != jwkset.KtyEC && m.KTY != jwkset.KtyRSA {
			continue // a symmetric key (HMAC is never accepted), or an unknown type
		}
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			if errors.Is(err, jwkset.ErrUnsupportedKey) {
				continue
			}
			return nil, fmt.Errorf("JWKS key %d (%q): %w", i, m.KID, err)
		}
		if err := usableJWK(jwk); err != nil {
			return nil, fmt.Errorf("JWKS key %d (%q): %w", i, m.KID, err)
		}
		if err := st.KeyWrite(context.Background(), jwk); err != nil {
			return nil, err
		}
	}
	all, _ := st.KeyReadAll(context.Background())
	if len(all) == 0 {
		return nil, errors.New("JWKS: no usable signing key (Ed25519, P-256 or RSA of 2048 bits or more)")
	}
	return newKeySet(st, "a JWKS file")
}

// JWKSFile reads a JWKS file once (ParseJWKS).
func JWKSFile(path string) (*KeySet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ks, err := ParseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ks.source = path
	return ks, nil
}

// RemoteJWKS fetches the key set at url now, and returns an error saying why
// if that fails or leaves no usable key (ParseJWKS's rules), so that a
// misconfigured provider stops the start. Afterwards the set is refreshed
// every JWKSRefresh and, at most once per JWKSUnknownKIDRefresh, when a token
// names an unknown key id, until ctx ends; a failed refresh keeps the keys
// held and is logged. client may be nil (a client with a 10 s timeout).
func RemoteJWKS(ctx context.Context, url string, client *http.Client, log *slog.Logger) (*KeySet, error) {
	if log == nil {
		log = slog.Default()
	}
	client = boundedClient(client)
	// The first fetch, to report a bad key set clearly: jwkset would only
	// say that the set failed to decode.
	b, err := fetch(ctx, client, url)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", url, err)
	}
	if _, err := ParseJWKS(b); err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", url, err)
	}
	st, err := jwkset.NewStorageFromHTTP(url, jwkset.HTTPClientStorageOptions{
		Client: client, Ctx: ctx, HTTPTimeout: 10 * time.Second, RefreshInterval: JWKSRefresh,
		RefreshErrorHandler: func(_ context.Context, err error) {
			log.Warn("JWKS refresh failed; keeping the keys held", "url", url, "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", url, err)
	}
	remote, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{url: st},
		// The refresh on an unknown key id runs within the token's check:
		// a request waits at most this long for it, and one that would
		// wait longer for the rate limit is refused at once.
		RateLimitWaitMax:  10 * time.Second,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(JWKSUnknownKIDRefresh), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", url, err)
	}
	return newKeySet(remote, url)
}

// keyfunc returns the jwt.Keyfunc of the set: the key the token names (an
// unknown kid may refresh a remote set), or with no kid the only key of the
// set, pinned to its algorithm.
func (ks *KeySet) keyfunc(ctx context.Context) jwt.Keyfunc {
	named := ks.kf.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if kid, ok := t.Header["kid"]; ok {
			key, err := named(t)
			switch {
			case errors.Is(err, jwkset.ErrKeyNotFound):
				return nil, fmt.Errorf("no key %q in the issuer's key set", kid)
			case err != nil:
				return nil, fmt.Errorf("algorithm %s refused for key %q: %w", alg, kid, err)
			}
			return pinned(key, alg)
		}
		all, err := ks.storage.KeyReadAll(ctx)
		if err != nil {
			return nil, err
		}
		if len(all) != 1 {
			return nil, fmt.Errorf("the token names no key (kid) and %s holds %d", ks.source, len(all))
		}
		if a := all[0].Marshal().ALG.String(); a != "" && a != alg {
			return nil, fmt.Errorf("the key's alg %s differs from the token's %s", a, alg)
		}
		return pinned(all[0].Key(), alg)
	}
}

// pinned returns the public key of key when alg is the one algorithm its type
// allows, and an error otherwise.
func pinned(key any, alg string) (any, error) {
	if k, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = k.Public()
	}
	want, err := algorithmOf(key)
	if err != nil {
		return nil, err
	}
	if want != alg {
		return nil, fmt.Errorf("algorithm %s with a key for %s", alg, want)
	}
	return key, nil
}

// algorithmOf names the algorithm a public key is pinned to; it returns an
// error for a key of another type, another curve, or RSA under MinRSABits.
func algorithmOf(key any) (string, error) {
	switch k := key.(type) {
	case ed25519.PublicKey:
		return "EdDSA", nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("an EC key on %s, not P-256", k.Curve.Params().Name)
		}
		return "ES256", nil
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return "", fmt.Errorf("an RSA key of %d bits, under %d", k.N.BitLen(), MinRSABits)
		}
		return "RS256", nil
	}
	return "", fmt.Errorf("a key of type %T, not Ed25519, P-256 or RSA", key)
}

// usableJWK checks a key of a set: of an accepted type and size, with an
// "alg", if any, that its type allows.
func usableJWK(jwk jwkset.JWK) error {
	want, err := algorithmOf(jwk.Key())
	if err != nil {
		return err
	}
	if a := jwk.Marshal().ALG.String(); a != "" && a != want {
		return fmt.Errorf("alg %s does not fit its key type (%s)", a, want)
	}
	return nil
}

// KeyID names a public key by a hash of its encoding.
func KeyID(pub crypto.PublicKey) string {
	var raw []byte
	switch k := pub.(type) {
	case ed25519.PublicKey:
		raw = k
	case *ecdsa.PublicKey:
		raw, _ = k.Bytes()
	case *rsa.PublicKey:
		raw = k.N.Bytes()
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

// boundedClient returns client (or one with a 10 s timeout) whose answers'
// bodies are cut at maxJWKSBytes: a provider cannot make the hub read an
// endless key set.
func boundedClient(client *http.Client) *http.Client {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	c := *client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = limitedTransport{base}
	return &c
}

type limitedTransport struct{ base http.RoundTripper }

func (l limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxJWKSBytes), resp.Body}
	return resp, nil
}

// fetch GETs url and returns its body, refusing any status but 200.
func fetch(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	return io.ReadAll(resp.Body)
}
