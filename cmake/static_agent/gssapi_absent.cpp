// SPDX-License-Identifier: Apache-2.0
// The GSSAPI calls in Debian's libzmq.a, for MEDIC_AGENT_STATIC: the agent only speaks CURVE, and
// linking MIT Kerberos (seven shared libraries, ~0.4 MiB of the agent's RSS) for a mechanism it
// never configures is waste. Every call fails with GSS_S_UNAVAILABLE, so a GSSAPI handshake,
// were one ever attempted, is refused cleanly.
#include <gssapi/gssapi.h>

namespace {
OM_uint32 unavailable(OM_uint32* minor) noexcept {
  if (minor != nullptr) {
    *minor = 0;
  }
  return GSS_S_UNAVAILABLE;
}
} // namespace

extern "C" {

gss_OID GSS_C_NT_USER_NAME = nullptr;
gss_OID GSS_C_NT_HOSTBASED_SERVICE = nullptr;

OM_uint32 gss_acquire_cred(OM_uint32* minor, gss_name_t, OM_uint32, gss_OID_set, gss_cred_usage_t,
                           gss_cred_id_t*, gss_OID_set*, OM_uint32*) {
  return unavailable(minor);
}
OM_uint32 gss_release_cred(OM_uint32* minor, gss_cred_id_t*) {
  return unavailable(minor);
}
OM_uint32 gss_init_sec_context(OM_uint32* minor, gss_cred_id_t, gss_ctx_id_t*, gss_name_t, gss_OID,
                               OM_uint32, OM_uint32, gss_channel_bindings_t, gss_buffer_t,
                               gss_OID*, gss_buffer_t, OM_uint32*, OM_uint32*) {
  return unavailable(minor);
}
OM_uint32 gss_accept_sec_context(OM_uint32* minor, gss_ctx_id_t*, gss_cred_id_t, gss_buffer_t,
                                 gss_channel_bindings_t, gss_name_t*, gss_OID*, gss_buffer_t,
                                 OM_uint32*, OM_uint32*, gss_cred_id_t*) {
  return unavailable(minor);
}
OM_uint32 gss_delete_sec_context(OM_uint32* minor, gss_ctx_id_t*, gss_buffer_t) {
  return unavailable(minor);
}
OM_uint32 gss_wrap(OM_uint32* minor, gss_ctx_id_t, int, gss_qop_t, gss_buffer_t, int*,
                   gss_buffer_t) {
  return unavailable(minor);
}
OM_uint32 gss_unwrap(OM_uint32* minor, gss_ctx_id_t, gss_buffer_t, gss_buffer_t, int*, gss_qop_t*) {
  return unavailable(minor);
}
OM_uint32 gss_display_name(OM_uint32* minor, gss_name_t, gss_buffer_t, gss_OID*) {
  return unavailable(minor);
}
OM_uint32 gss_import_name(OM_uint32* minor, gss_buffer_t, gss_OID, gss_name_t*) {
  return unavailable(minor);
}
OM_uint32 gss_release_name(OM_uint32* minor, gss_name_t*) {
  return unavailable(minor);
}
OM_uint32 gss_release_buffer(OM_uint32* minor, gss_buffer_t) {
  return unavailable(minor);
}

} // extern "C"
