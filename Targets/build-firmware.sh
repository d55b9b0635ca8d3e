#!/usr/bin/env bash
# Builds the HalfStep firmware image for an emulated Cortex-M board.
#
#   Targets/build-firmware.sh BOARD PAYLOAD.bin OUT_DIR [FLASH_BYTES SRAM_BYTES ARENA_BYTES STACK_BYTES PART]
#
# BOARD is a folder under Targets/ (mps2-an386, mps2-an500). PAYLOAD.bin is the plan and batches
# `halfstep validate --qemu` packs. The memory sizes come from the part profile being validated
# (defaults: the board's full 4 MiB each, a 64 KiB arena, a 16 KiB stack). Toolchain: swiftc in
# Embedded mode, clang and ld.lld from the Swift toolchain; nothing else. Prints the image's
# section sizes; writes OUT_DIR/image.elf, image.map and image.lst (disassembly).
set -euo pipefail
board="${1:?board}"; payload="${2:?payload}"; out="${3:?out dir}"
flash="${4:-4194304}"; sram="${5:-4194304}"; arena="${6:-65536}"; stack="${7:-16384}"; part="${8:-$board}"
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/.." && pwd)"
# shellcheck disable=SC1090
source "$here/$board/board.env"
mkdir -p "$out"
payload="$(cd "$(dirname "$payload")" && pwd)/$(basename "$payload")"
read -r -a swift_cpu <<< "$SWIFT_CPU_FLAGS"
read -r -a clang_cpu <<< "$CLANG_CPU_FLAGS"
common=(-target armv7em-none-none-eabi -enable-experimental-feature Embedded -no-allocations -wmo -Osize
        -parse-as-library -Xfrontend -disable-stack-protector -Xfrontend -function-sections "${swift_cpu[@]}")

# The core, as a module of its own (cached per board: it does not depend on the payload).
core_sources=$(find "$root/Sources/HalfStepCore" -name '*.swift' | sort)
stamp="$out/core.stamp"
digest=$(cat $core_sources | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  # shellcheck disable=SC2086
  swiftc "${common[@]}" -module-name HalfStepCore -emit-module -emit-module-path "$out/HalfStepCore.swiftmodule" \
    -c $core_sources -o "$out/HalfStepCore.o"
  echo "$digest" > "$stamp"
fi
swiftc "${common[@]}" -module-name Firmware -I "$out" -c "$here"/firmware/*.swift -o "$out/firmware.o"
clang --target=thumbv7em-none-eabi "${clang_cpu[@]}" -Os -ffreestanding -fno-builtin -ffunction-sections -c "$here/firmware/startup.c" -o "$out/startup.o"
printf '.section .payload,"a"\n.balign 16\n.incbin "%s"\n' "$payload" > "$out/payload.s"
clang --target=thumbv7em-none-eabi "${clang_cpu[@]}" -c "$out/payload.s" -o "$out/payload.o"
sed -e "s/@FLASH_BYTES@/$flash/" -e "s/@SRAM_BYTES@/$sram/" -e "s/@ARENA_BYTES@/$arena/" -e "s/@STACK_BYTES@/$stack/" \
    -e "s/@PART@/$part/" "$here/firmware/link.ld.in" > "$out/link.ld"
ld.lld -T "$out/link.ld" --gc-sections -Map "$out/image.map" \
  "$out/startup.o" "$out/firmware.o" "$out/HalfStepCore.o" "$out/payload.o" -o "$out/image.elf"
llvm-objdump -d --mcpu="$OBJDUMP_CPU" "$out/image.elf" > "$out/image.lst" 2>/dev/null || true
declare -A size=()
while read -r _ name hex _; do
  case "$name" in .vectors|.text|.rodata|.ARM.exidx|.payload|.data|.bss|.arena|.stack) size[$name]=$((16#$hex)) ;; esac
done < <(llvm-objdump -h "$out/image.elf")
text=$(( ${size[.vectors]:-0} + ${size[.text]:-0} + ${size[.ARM.exidx]:-0} ))
echo "firmware for $board (sized to $part): text $text, rodata ${size[.rodata]:-0}, payload ${size[.payload]:-0}, data ${size[.data]:-0}, bss ${size[.bss]:-0}, arena ${size[.arena]:-0}, stack ${size[.stack]:-0} bytes"
