#ifndef NEPHOMETER_CNETSNMP_SHIM_H
#define NEPHOMETER_CNETSNMP_SHIM_H
/* System headers first: net-snmp-config.h defines _GNU_SOURCE, which would change fd_set otherwise. */
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <netinet/in.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

/* Macros Swift cannot import (they OR several macros together). */
static const int SHIM_SNMP_MSG_GET = SNMP_MSG_GET;
static const int SHIM_SNMP_MSG_GETNEXT = SNMP_MSG_GETNEXT;
static const int SHIM_SNMP_MSG_GETBULK = SNMP_MSG_GETBULK;
static const int SHIM_SNMP_MSG_RESPONSE = SNMP_MSG_RESPONSE;
static const int SHIM_SNMP_MSG_REPORT = SNMP_MSG_REPORT;
static const int SHIM_SNMP_NOSUCHOBJECT = SNMP_NOSUCHOBJECT;
static const int SHIM_SNMP_NOSUCHINSTANCE = SNMP_NOSUCHINSTANCE;
static const int SHIM_SNMP_ENDOFMIBVIEW = SNMP_ENDOFMIBVIEW;
static const int SHIM_ASN_INTEGER = ASN_INTEGER;
static const int SHIM_ASN_OCTET_STR = ASN_OCTET_STR;
static const int SHIM_ASN_OBJECT_ID = ASN_OBJECT_ID;
static const int SHIM_ASN_NULL = ASN_NULL;
static const int SHIM_ASN_IPADDRESS = ASN_IPADDRESS;
static const int SHIM_ASN_COUNTER = ASN_COUNTER;
static const int SHIM_ASN_GAUGE = ASN_GAUGE;
static const int SHIM_ASN_TIMETICKS = ASN_TIMETICKS;
static const int SHIM_ASN_OPAQUE = ASN_OPAQUE;
static const int SHIM_ASN_COUNTER64 = ASN_COUNTER64;
static const int SHIM_SNMP_SEC_MODEL_USM = SNMP_SEC_MODEL_USM;
static const int SHIM_SNMPERR_NOT_IN_TIME_WINDOW = SNMPERR_NOT_IN_TIME_WINDOW;
static const unsigned long SHIM_SNMP_FLAGS_DONT_PROBE = SNMP_FLAGS_DONT_PROBE;

/* One-time library setup: no configuration files read or written, no MIBs loaded. */
static inline void shim_init_library(const char *app) {
    setenv("MIBS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    init_snmp(app);
}

/* Authentication protocol by index: 0 md5, 1 sha, 2 sha224, 3 sha256, 4 sha384, 5 sha512. */
static inline int shim_set_auth_proto(netsnmp_session *s, int which) {
    oid *p; size_t n;
    switch (which) {
    case 0: p = usmHMACMD5AuthProtocol; n = OID_LENGTH(usmHMACMD5AuthProtocol); break;
    case 1: p = usmHMACSHA1AuthProtocol; n = OID_LENGTH(usmHMACSHA1AuthProtocol); break;
    case 2: p = usmHMAC128SHA224AuthProtocol; n = OID_LENGTH(usmHMAC128SHA224AuthProtocol); break;
    case 3: p = usmHMAC192SHA256AuthProtocol; n = OID_LENGTH(usmHMAC192SHA256AuthProtocol); break;
    case 4: p = usmHMAC256SHA384AuthProtocol; n = OID_LENGTH(usmHMAC256SHA384AuthProtocol); break;
    case 5: p = usmHMAC384SHA512AuthProtocol; n = OID_LENGTH(usmHMAC384SHA512AuthProtocol); break;
    default: return -1;
    }
    s->securityAuthProto = snmp_duplicate_objid(p, n);
    s->securityAuthProtoLen = n;
    return s->securityAuthProto ? 0 : -1;
}

/* Privacy protocol by index: 0 des, 1 aes128, 2 aes192, 3 aes256. */
static inline int shim_set_priv_proto(netsnmp_session *s, int which) {
    oid *p; size_t n;
    switch (which) {
#ifndef NETSNMP_DISABLE_DES
    case 0: p = usmDESPrivProtocol; n = OID_LENGTH(usmDESPrivProtocol); break;
#endif
    case 1: p = usmAESPrivProtocol; n = OID_LENGTH(usmAESPrivProtocol); break;
#ifdef NETSNMP_DRAFT_BLUMENTHAL_AES_04
    case 2: p = usmAES192PrivProtocol; n = OID_LENGTH(usmAES192PrivProtocol); break;
    case 3: p = usmAES256PrivProtocol; n = OID_LENGTH(usmAES256PrivProtocol); break;
#endif
    default: return -1;
    }
    s->securityPrivProto = snmp_duplicate_objid(p, n);
    s->securityPrivProtoLen = n;
    return s->securityPrivProto ? 0 : -1;
}

/* Derives Ku from the passphrases (set the protocols first). Returns 0 or a net-snmp error. */
static inline int shim_set_auth_key(netsnmp_session *s, const char *pass) {
    s->securityAuthKeyLen = USM_AUTH_KU_LEN;
    return generate_Ku(s->securityAuthProto, (u_int)s->securityAuthProtoLen, (const u_char *)pass,
                       strlen(pass), s->securityAuthKey, &s->securityAuthKeyLen);
}
static inline int shim_set_priv_key(netsnmp_session *s, const char *pass) {
    s->securityPrivKeyLen = USM_PRIV_KU_LEN;
    return generate_Ku(s->securityAuthProto, (u_int)s->securityAuthProtoLen, (const u_char *)pass,
                       strlen(pass), s->securityPrivKey, &s->securityPrivKeyLen);
}

/* GETBULK parameters live in errstat/errindex (macros in net-snmp). */
static inline void shim_set_bulk(netsnmp_pdu *pdu, long nonRepeaters, long maxRepetitions) {
    pdu->non_repeaters = nonRepeaters;
    pdu->max_repetitions = maxRepetitions;
}

/* An empty v3 GET for engine-ID discovery (RFC 3414 4), as net-snmp's own probe builds it. */
static inline netsnmp_pdu *shim_probe_pdu(void) {
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
    if (!pdu) return NULL;
    pdu->version = SNMP_VERSION_3;
    pdu->securityName = strdup("");
    pdu->securityNameLen = 0;
    pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
    pdu->securityModel = SNMP_SEC_MODEL_USM;
    return pdu;
}

/* The session's socket. */
static inline int shim_sess_fd(void *sessp) {
    netsnmp_transport *t = snmp_sess_transport(sessp);
    return t ? t->sock : -1;
}

/* A large fd set of the given size (for descriptors beyond FD_SETSIZE). */
static inline netsnmp_large_fd_set *shim_lfs_new(int size) {
    netsnmp_large_fd_set *l = (netsnmp_large_fd_set *)calloc(1, sizeof(netsnmp_large_fd_set));
    if (!l) return NULL;
    netsnmp_large_fd_set_init(l, size);
    size_t bytes = ((size_t)size + 63) / 64 * 8;
    if (bytes < sizeof(fd_set)) bytes = sizeof(fd_set);
    memset((void *)l->lfs_setptr, 0, bytes);
    return l;
}
static inline void shim_lfs_free(netsnmp_large_fd_set *l) {
    if (!l) return;
    netsnmp_large_fd_set_cleanup(l);
    free(l);
}

/* Reads what is waiting on one session's socket (callbacks run inside). */
static inline int shim_sess_read_fd(void *sessp, int fd, netsnmp_large_fd_set *l) {
    if (fd >= l->lfs_setsize && !netsnmp_large_fd_set_resize(l, fd + 1024)) return -1;
    netsnmp_large_fd_setfd(fd, l);
    int rc = snmp_sess_read2(sessp, l);
    netsnmp_large_fd_clr(fd, l);
    return rc;
}

/* The last error of a session as text (caller frees). */
static inline char *shim_sess_error(void *sessp) {
    int clib = 0, snmperr = 0;
    char *msg = NULL;
    snmp_sess_error(sessp, &clib, &snmperr, &msg);
    return msg;
}

/* epoll: register a descriptor with a token; wait filling tokens. */
static inline int shim_epoll_add(int ep, int fd, uint64_t token) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = token;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}
static inline int shim_epoll_wait(int ep, uint64_t *tokens, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(ep, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) tokens[i] = evs[i].data.u64;
    return n;
}

/* Raises the soft descriptor limit to the hard limit; returns the new soft limit. */
static inline long shim_raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return r.rlim_cur == RLIM_INFINITY ? 1048576 : (long)r.rlim_cur;
}
#endif
