// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest images: the ELF bytes, validated once when loaded, kept so that
 * every sandbox of the image copies its segments from them, and the
 * function symbols that name a fault's addresses (lib/symtab.c). An image
 * also keeps the snapshots of its boot (lib/bootsnap.c), which go when it
 * is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "probes.h"
#include "image.h"

#define IMAGE_MAX_SIZE (256ULL << 20)

static int from_buffer(const void *buf, size_t len, struct vmlet_image **out)
{
	struct vmlet_image *img;
	int err;

	if (!buf || !out)
		return -EINVAL;
	if (len > IMAGE_MAX_SIZE)
		return -EFBIG;
	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	img->data = malloc(len ? len : 1);
	if (!img->data) {
		err = -ENOMEM;
		goto err_img;
	}
	memcpy(img->data, buf, len);
	img->len = len;
	err = vmlet_elf_parse(img->data, len, VMLET_IMAGE_BASE, VMLET_MAX_MEM, &img->elf, NULL);
	if (err)
		goto err_data;
	err = vmlet_symtab_load(img->data, len, &img->syms);
	if (err)
		goto err_data;
	err = -pthread_mutex_init(&img->lock, NULL);
	if (err)
		goto err_syms;
	*out = img;
	return 0;

err_syms:
	vmlet_symtab_free(&img->syms);
err_data:
	free(img->data);
err_img:
	free(img);
	return err;
}

VMLET_API int vmlet_image_from_memory(const void *buf, size_t len, struct vmlet_image **out)
{
	int err = from_buffer(buf, len, out);

	vmlet_probe_image_load((uint64_t)len, (int32_t)err);
	return err;
}

VMLET_API int vmlet_image_open(const char *path, struct vmlet_image **out)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd, err;

	if (!path || !out)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		vmlet_probe_image_load((uint64_t)0, (int32_t)err);
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto err_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto err_fd;
	}
	if ((uint64_t)st.st_size > IMAGE_MAX_SIZE) {
		err = -EFBIG;
		goto err_fd;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		err = -ENOMEM;
		goto err_fd;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto err_buf;
		}
		done += (size_t)n;
	}
	err = from_buffer(buf, done, out);
err_buf:
	free(buf);
err_fd:
	close(fd);
	vmlet_probe_image_load((uint64_t)done, (int32_t)err);
	return err;
}

VMLET_API void vmlet_image_close(struct vmlet_image *img)
{
	if (!img)
		return;
	__vmlet_bootsnap_free(img);
	pthread_mutex_destroy(&img->lock);
	vmlet_symtab_free(&img->syms);
	free(img->data);
	free(img);
}

unsigned long __vmlet_image_boots(const struct vmlet_image *img)
{
	return __atomic_load_n(&img->boots, __ATOMIC_RELAXED);
}
