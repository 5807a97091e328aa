#ifndef NEPHOMETER_CLIBVIRT_SHIM_H
#define NEPHOMETER_CLIBVIRT_SHIM_H
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#endif
