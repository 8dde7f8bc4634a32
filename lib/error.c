// SPDX-License-Identifier: BSD-2-Clause
/*
 * Names for error codes, types and backings. All strings are static, so
 * these are safe from any thread.
 */
#define _GNU_SOURCE
#include <string.h>

#include <vmlet.h>

static const char *const vmlet_errors[VMLET_ELAST - VMLET_EEXCEPTION] = {
	[VMLET_EEXCEPTION - VMLET_EEXCEPTION] = "Guest CPU exception",
	[VMLET_EABORT - VMLET_EEXCEPTION] = "Guest aborted",
	[VMLET_EEXIT - VMLET_EEXCEPTION] = "Guest exited",
	[VMLET_ESHUTDOWN - VMLET_EEXCEPTION] = "Guest triple fault (vCPU shutdown)",
	[VMLET_EPROTO - VMLET_EEXCEPTION] = "Guest broke the vmlet ABI",
	[VMLET_EVMEXIT - VMLET_EEXCEPTION] = "Unexpected VM exit",
	[VMLET_EDEAD - VMLET_EEXCEPTION] = "Sandbox is dead after an earlier failure",
	[VMLET_EABI - VMLET_EEXCEPTION] = "Image built for another vmlet ABI version",
	[VMLET_EREFUSED - VMLET_EEXCEPTION] = "Guest refused the call",
	[VMLET_EINTR - VMLET_EEXCEPTION] = "Guest interrupted",
	[VMLET_ETIMEDOUT - VMLET_EEXCEPTION] = "Guest ran past its deadline",
	[VMLET_EOUTPUT - VMLET_EEXCEPTION] = "Guest output exceeded the call's print limit",
	[VMLET_EFAIL - VMLET_EEXCEPTION] = "Guest function failed",
};

VMLET_API const char *vmlet_strerror(int err)
{
	const char *s;

	if (err >= 0)
		return "Success";
	err = -err;
	if (err >= VMLET_EEXCEPTION && err < VMLET_ELAST)
		return vmlet_errors[err - VMLET_EEXCEPTION];
	s = strerrordesc_np(err);
	return s ? s : "Unknown error";
}

VMLET_API const char *vmlet_type_name(enum vmlet_type type)
{
	static const char *const names[VMLET_NTYPES] = {
		"void", "bool", "i32", "u32", "i64", "u64", "f32", "f64", "string", "bytes",
	};

	return (unsigned int)type < VMLET_NTYPES ? names[type] : "unknown";
}

VMLET_API const char *vmlet_backing_name(enum vmlet_backing backing)
{
	switch (backing) {
	case VMLET_BACKING_AUTO:
		return "auto";
	case VMLET_BACKING_HUGETLB:
		return "hugetlb-2M";
	case VMLET_BACKING_THP:
		return "shmem-thp";
	case VMLET_BACKING_4K:
		return "shmem-4k";
	}
	return "unknown";
}
