package config

import (
	"reflect"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Credentials returns the credentials in t's configuration, for notify.SecretForms: every
// notify.Secret value in it, and what the type's config lists as a notify.Credentialer (a
// webhook's URL and header values). Callers that print a receiver's answer scrub these from it,
// as the targets do with their errors.
func (t *Target) Credentials() []string {
	var out []string
	secret := reflect.TypeFor[notify.Secret]()
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value())
			}
		case reflect.String:
			if v.Type() == secret {
				out = append(out, v.String())
			}
		}
	}
	walk(reflect.ValueOf(t))
	if c, ok := t.Adapter.(notify.Credentialer); ok {
		out = append(out, c.Credentials()...)
	}
	return out
}
