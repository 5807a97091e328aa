#ifndef NEPHOMETER_CNETSNMP_SHIM_H
#define NEPHOMETER_CNETSNMP_SHIM_H
/* System headers first: net-snmp-config.h defines _GNU_SOURCE, which would change fd_set otherwise. */
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#endif
