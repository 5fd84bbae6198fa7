// SPDX-License-Identifier: GPL-2.0
/* Loads a BPF object, attaches every program in it (tp_btf here), prints "attached" and holds the
 * links until a signal ends it; the kernel detaches and frees them when it exits, however it exits,
 * so nothing is pinned and nothing can be left behind. (Debian 12's bpftool 7.1 has no
 * `prog loadall ... autoattach`.) Usage: empty_loader OBJ */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: empty_loader OBJ\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		perror("empty_loader: open");
		return 1;
	}
	if (bpf_object__load(obj)) {
		perror("empty_loader: load");
		return 1;
	}
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj)
	{
		if (!bpf_program__attach(p)) {
			fprintf(stderr, "empty_loader: cannot attach %s\n", bpf_program__name(p));
			return 1;
		}
	}
	printf("attached\n");
	fflush(stdout);
	for (;;)
		pause();
}
