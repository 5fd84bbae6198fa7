# bpf_object(NAME SOURCE): compile SOURCE with clang -target bpf (CO-RE) and generate its skeleton
# with `bpftool gen skeleton`. Defines the INTERFACE library NAME_skel whose include directory holds
# NAME.skel.h. A function, not a macro, so that its variables do not leak between calls; each object
# gets its own custom target so parallel builds do not race on the same outputs.
find_program(BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BPF_TARGET_ARCH arm64)
else()
  message(FATAL_ERROR "no vmlinux.h for ${CMAKE_SYSTEM_PROCESSOR}: run scripts/gen-vmlinux.sh on such a machine")
endif()
set(BPF_VMLINUX_DIR ${CMAKE_SOURCE_DIR}/bpf/vmlinux/${BPF_TARGET_ARCH})
if(NOT EXISTS ${BPF_VMLINUX_DIR}/vmlinux.h)
  message(FATAL_ERROR "missing ${BPF_VMLINUX_DIR}/vmlinux.h: run scripts/gen-vmlinux.sh")
endif()

function(bpf_object name source)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf)
  set(object ${out_dir}/${name}.bpf.o)
  set(skeleton ${out_dir}/${name}.skel.h)
  get_filename_component(src_dir ${source} DIRECTORY)
  file(GLOB headers ${src_dir}/*.h)
  add_custom_command(
    OUTPUT ${object}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${BPF_CLANG} -g -O2 -Wall -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -I${src_dir} -I${BPF_VMLINUX_DIR} -c ${source} -o ${object}
    DEPENDS ${source} ${headers} ${BPF_VMLINUX_DIR}/vmlinux.h
    COMMENT "BPF object ${name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skeleton}
    COMMAND ${BPFTOOL} gen skeleton ${object} name ${name} > ${skeleton}
    DEPENDS ${object}
    COMMENT "BPF skeleton ${name}"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skeleton})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir} ${src_dir})
endfunction()
