package providerkit

import (
	"errors"

	"github.com/imgpurge/imgpurge/internal/config"
)

// CheckAWSKeys accepts static AWS credentials given together or not at all:
// one without the other is a mistake, not a reason to fall back silently
// to the standard credential chain. The error belongs to field
// secret_access_key.
func CheckAWSKeys(accessKeyID, secretAccessKey config.Secret) error {
	if accessKeyID.Empty() != secretAccessKey.Empty() {
		return errors.New("give access_key_id and secret_access_key together, or neither")
	}
	return nil
}
