#!/usr/bin/env bash
# Builds the HalfStep firmware image for an emulated Cortex-M board.
#
#   Targets/build-firmware.sh BOARD PAYLOAD.bin OUT_DIR [FLASH_BYTES SRAM_BYTES ARENA_BYTES STACK_BYTES PART]
#
# BOARD is a folder under Targets/ (mps2-an386, mps2-an500, mps2-an505, mps3-an547; its board.env
# gives the CPU and the memory map's origins). PAYLOAD.bin is the plan and batches
# `halfstep validate --qemu` packs. The memory sizes come from the part profile being validated
# (defaults: the board's full 4 MiB each, a 64 KiB arena, a 16 KiB stack). Toolchain: swiftc in
# Embedded mode, clang and ld.lld from the Swift toolchain; nothing else. Prints the image's
# section sizes; writes OUT_DIR/image.elf, image.map and image.lst (disassembly).
set -euo pipefail
board="${1:?board}"; payload="${2:?payload}"; out="${3:?out dir}"
flash="${4:-4194304}"; sram="${5:-4194304}"; arena="${6:-65536}"; stack="${7:-16384}"; part="${8:-$board}"
here="$(cd "$(dirname "$0")" && pwd)"
# The core, cached by CPU (Tools/embedded/build-core.sh; flags from Targets/embedded-flags.env).
# shellcheck source=../Tools/embedded/build-core.sh
source "$here/../Tools/embedded/build-core.sh"
# shellcheck disable=SC1090
source "$here/$board/board.env"
mkdir -p "$out"
payload="$(cd "$(dirname "$payload")" && pwd)/$(basename "$payload")"
embedded_core "$EMBEDDED_CPU"
core="$embedded_core_dir"

# The firmware's own objects do not depend on the payload either: cached by the core's entry, the
# firmware sources and the flags, once per board.
build_firmware_objects() {
  swiftc "${embedded_swift[@]}" -module-name Firmware -I "$core" -c "$here"/firmware/*.swift -o "$1/firmware.o"
  clang "${embedded_clang[@]}" -c "$here/firmware/startup.c" -o "$1/startup.o"
}
mapfile -t firmware_sources < <(ls "$here"/firmware/*.swift "$here/firmware/startup.c" | LC_ALL=C sort)
firmware_digest=$(cache_digest "$embedded_root" "${firmware_sources[@]}" -- "$core" "${embedded_swift[*]}" "${embedded_clang[*]}" "$(swiftc_version)")
cached_build "firmware-$EMBEDDED_CPU" "$firmware_digest" build_firmware_objects
objects="$cached_dir"

# A vector table at the start of the board's code memory takes its 1 KiB out of the part's flash.
if [ "${VECTORS_IN_FLASH:-0}" = 1 ]; then flash=$((flash - 1024)); fi

printf '.section .payload,"a"\n.balign 16\n.incbin "%s"\n' "$payload" > "$out/payload.s"
clang "${embedded_as[@]}" -c "$out/payload.s" -o "$out/payload.o"
sed -e "s/@VECTORS_ORIGIN@/$VECTORS_ORIGIN/" -e "s/@FLASH_ORIGIN@/$FLASH_ORIGIN/" -e "s/@SRAM_ORIGIN@/$SRAM_ORIGIN/" \
    -e "s/@FLASH_BYTES@/$flash/" -e "s/@SRAM_BYTES@/$sram/" -e "s/@ARENA_BYTES@/$arena/" -e "s/@STACK_BYTES@/$stack/" \
    -e "s/@PART@/$part/" "$here/firmware/link.ld.in" > "$out/link.ld"
ld.lld -T "$out/link.ld" --gc-sections -Map "$out/image.map" \
  "$objects/startup.o" "$objects/firmware.o" "$core/HalfStepCore.o" "$out/payload.o" -o "$out/image.elf"
llvm-objdump -d --mcpu="$embedded_objdump_cpu" "$out/image.elf" > "$out/image.lst" 2>/dev/null || true
declare -A size=()
while read -r _ name hex _; do
  case "$name" in .vectors|.text|.rodata|.ARM.exidx|.payload|.data|.bss|.arena|.stack) size[$name]=$((16#$hex)) ;; esac
done < <(llvm-objdump -h "$out/image.elf")
text=$(( ${size[.vectors]:-0} + ${size[.text]:-0} + ${size[.ARM.exidx]:-0} ))
echo "firmware for $board (sized to $part): text $text, rodata ${size[.rodata]:-0}, payload ${size[.payload]:-0}, data ${size[.data]:-0}, bss ${size[.bss]:-0}, arena ${size[.arena]:-0}, stack ${size[.stack]:-0} bytes"
