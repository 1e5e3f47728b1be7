# Cella's El Torito boot program for BIOS: boots the ISO from a CD-ROM as if it were a disk.
#
# bootloader 0.11's BIOS stages read their disk through int 13h extensions in 512-byte
# sectors, from the drive number they were started with; a CD answers in 2048-byte sectors.
# The BIOS loads this program (no emulation) at 0:7C00 with DL = the CD's drive number. It
#
# 1. takes RESERVED_KIB of conventional memory from the top (the BIOS data area's base
#    memory size at 0040:0013), copies itself there, and keeps its bounce buffer behind it;
# 2. hooks int 13h: for the CD's drive number, functions 00h, 41h, 42h and 48h see a disk of
#    512-byte sectors whose sector N is bytes N*512.. of the ISO, the view that boots when
#    the ISO is a disk; other functions and drives go to the BIOS's handler;
# 3. reads that disk's sector 0, bootloader's first stage, to 0:7C00 and jumps to it with
#    DL = the CD's drive number, so the stages load the kernel as from a disk.
#
# bootloader's stages keep below 0x80000 in real mode and call the BIOS no more once they
# leave it, so the reserved block lives as long as it is used. Assembled at ISO build time
# (see iso.rs): as --32 --defsym BOUNCE=..., then ld -m elf_i386 -Ttext 0 --oformat binary.

.intel_syntax noprefix
.code16

# Where the BIOS loads a boot program.
.set LOAD_SEGMENT, 0x07c0
# The BIOS data area's base memory size, in KiB, as an offset in segment 0.
.set BASE_MEMORY_KIB, 0x413
# The int 13h vector's offset in the interrupt table.
.set INT13_VECTOR, 0x13 * 4
# Sector sizes: the disk the stages see, and the CD, 4 of those per CD sector.
.set DISK_SECTOR, 512
.set CD_SECTOR, 2048
.set DISK_PER_CD_SHIFT, 2
# Memory taken: the program, then at BOUNCE (iso.rs defines it as the program's room and
# checks the program fits) the bounce buffer of one CD sector.
.set RESERVED_KIB, (BOUNCE + CD_SECTOR + 1023) >> 10
# The most CD sectors read into the caller's buffer at once: 32 KiB, so a normalised
# segment:offset buffer never wraps.
.set DIRECT_MAX, 16
# No CD sector, in bounce_lba.
.set NO_SECTOR, 0xffffffff
# How often a failing CD read is tried.
.set READ_TRIES, 3
# The flags' carry bit, set in the caller's flags on an error.
.set CARRY, 1
# int 13h status: invalid function or parameter.
.set BAD_COMMAND, 0x01
# The first serial port, where a failure is reported beside the screen.
.set COM1, 0x3f8

.global _start
_start:
    # Some BIOSes jump to 0:7C00, others to 07C0:0000: run at offsets from this segment.
    cli
    jmp LOAD_SEGMENT:loaded
loaded:
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    cld
    mov ax, cs
    mov ds, ax
    mov [drive], dl

    # Take RESERVED_KIB from the top of conventional memory and move there.
    xor ax, ax
    mov es, ax
    mov ax, es:[BASE_MEMORY_KIB]
    sub ax, RESERVED_KIB
    mov es:[BASE_MEMORY_KIB], ax
    shl ax, 6                       # KiB to a segment (1024 / 16)
    mov es, ax
    xor si, si
    xor di, di
    mov cx, offset program_end
    rep movsb
    push es
    push offset relocated
    retf

relocated:
    mov ax, cs
    mov ds, ax
    xor ax, ax
    mov es, ax
    cli
    mov eax, es:[INT13_VECTOR]
    mov [old13], eax
    mov word ptr es:[INT13_VECTOR], offset int13
    mov es:[INT13_VECTOR + 2], cs
    sti

    # Chain-load the disk's sector 0 through the hook, as a BIOS loads a disk's.
    mov si, offset chain_packet
    mov dl, [drive]
    mov ah, 0x42
    int 0x13
    jc cannot_read
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov dl, cs:[drive]
    jmp 0:0x7c00

cannot_read:
    mov si, offset failure
print:
    lodsb
    test al, al
    jz halt
    mov dx, COM1
    out dx, al
    mov ah, 0x0e
    mov bx, 0x0007
    int 0x10
    jmp print
halt:
    hlt
    jmp halt

# The int 13h hook.
int13:
    cmp dl, cs:[drive]
    jne to_bios
    cmp ah, 0x42
    je extended_read
    cmp ah, 0x41
    je extensions_check
    cmp ah, 0x48
    je drive_parameters
    test ah, ah
    je reset
to_bios:
    jmp dword ptr cs:[old13]

# AH=41h, BX=55AAh: extensions 1.1 with the packet functions (42h-44h, 47h, 48h).
extensions_check:
    cmp bx, 0x55aa
    jne to_bios
    mov bx, 0xaa55
    mov cx, 1
    mov ah, 0x21
    jmp succeed

# AH=00h: nothing to reset in a view; the CD resets itself.
reset:
    xor ah, ah
    jmp succeed

# AH=48h: the CD's parameters, in 512-byte sectors.
drive_parameters:
    pushf
    call dword ptr cs:[old13]
    jc fail
    cmp word ptr [si], 0x1a         # the BIOS filled no sector size: nothing to convert
    jb succeed
    push eax
    push edx
    mov eax, [si + 0x10]            # total sectors, 64 bits; all ones (unknown, as
    mov edx, [si + 0x14]            # SeaBIOS says for a CD) stays so
    cmp eax, NO_SECTOR
    je 7f
    shld edx, eax, DISK_PER_CD_SHIFT
    shl eax, DISK_PER_CD_SHIFT
    mov [si + 0x10], eax
    mov [si + 0x14], edx
7:  mov word ptr [si + 0x18], DISK_SECTOR
    pop edx
    pop eax
    xor ah, ah
    jmp succeed

# Returns AH with the caller's flags, carry clear (succeed) or set (fail).
succeed:
    push bp
    mov bp, sp
    and word ptr [bp + 6], ~CARRY
    pop bp
    iret
fail:
    push bp
    mov bp, sp
    or word ptr [bp + 6], CARRY
    pop bp
    iret

# AH=42h: reads the disk address packet at DS:SI (count, buffer offset:segment, 64-bit
# LBA) in 512-byte sectors. Whole CD sectors go straight to the caller's buffer; the
# pieces of a CD sector go through the bounce buffer.
extended_read:
    sti
    pushad
    push ds
    push es
    mov bp, sp
    .set SAVED_AH, 4 + 28 + 1       # es, ds, then pushad's edi..ecx, eax
    .set CALLER_FLAGS, 4 + 32 + 4   # and the interrupt's ip, cs
    mov byte ptr [bp + SAVED_AH], BAD_COMMAND
    cmp byte ptr [si], 0x10         # packet size
    jb read_done
    cmp dword ptr [si + 12], 0      # an LBA beyond 2 TiB: no such sector
    jne read_done
    mov cx, [si + 2]
    mov di, [si + 4]
    mov bx, [si + 6]
    cmp di, 0xffff                  # FFFF:FFFF says a 64-bit address follows: unsupported
    jne 1f
    cmp bx, 0xffff
    je read_done
1:  mov eax, [si + 8]
    mov dx, di                      # normalise bx:di so di < 16
    shr dx, 4
    add bx, dx
    and di, 0x0f
    push cs
    pop ds

read_loop:
    test cx, cx
    jz read_ok
    mov dx, ax
    and dx, (1 << DISK_PER_CD_SHIFT) - 1
    jnz read_piece
    cmp cx, 1 << DISK_PER_CD_SHIFT
    jb read_piece

    # Whole CD sectors, straight into bx:di.
    mov si, cx
    shr si, DISK_PER_CD_SHIFT
    cmp si, DIRECT_MAX
    jbe 2f
    mov si, DIRECT_MAX
2:  mov [packet_count], si
    mov [packet_offset], di
    mov [packet_segment], bx
    call read_cd
    jc read_error
    shl si, DISK_PER_CD_SHIFT       # disk sectors read
    movzx edx, si
    add eax, edx
    sub cx, si
    shl si, 5                       # to paragraphs (512 / 16)
    add bx, si
    jmp read_loop

read_piece:
    # dx = the first wanted piece of CD sector eax / 4; read it whole into the bounce buffer
    # unless it is there: the stages' reads often end and start inside the same CD sector.
    mov esi, eax
    shr esi, DISK_PER_CD_SHIFT
    cmp esi, [bounce_lba]
    je 3f
    mov word ptr [packet_count], 1
    mov word ptr [packet_offset], BOUNCE
    mov [packet_segment], cs
    mov dword ptr [bounce_lba], NO_SECTOR
    call read_cd
    jc read_error
    mov [bounce_lba], esi
3:  mov si, 1 << DISK_PER_CD_SHIFT  # pieces to copy: the rest of it, at most cx
    sub si, dx
    cmp si, cx
    jbe 6f
    mov si, cx
6:  push cx
    push di
    push si
    mov es, bx
    shl si, 8                       # pieces to words (512 / 2)
    mov cx, si
    mov si, dx
    shl si, 9                       # piece to byte offset
    add si, BOUNCE
    cld
    rep movsw
    pop si
    pop di
    pop cx
    movzx edx, si
    add eax, edx
    sub cx, si
    shl si, 5
    add bx, si
    jmp read_loop

read_ok:
    mov byte ptr [bp + SAVED_AH], 0
    and word ptr [bp + CALLER_FLAGS], ~CARRY
    jmp read_return
read_error:
    mov al, [read_status]
    mov [bp + SAVED_AH], al
read_done:
    or word ptr [bp + CALLER_FLAGS], CARRY
read_return:
    pop es
    pop ds
    popad
    iret

# Reads [packet_count] CD sectors from CD sector eax / 4 into the packet's buffer through
# the BIOS (DS = this program's segment); carry as the BIOS returns it, and its status in
# [read_status]. Keeps every register.
read_cd:
    push eax
    push edx
    push esi
    shr eax, DISK_PER_CD_SHIFT
    mov [packet_lba], eax
    mov dh, READ_TRIES
4:  mov byte ptr [packet], 0x10
    mov dl, [drive]
    mov si, offset packet
    mov ah, 0x42
    pushf
    call dword ptr [old13]
    jnc 5f
    dec dh
    jnz 4b
    stc
5:  mov [read_status], ah
    pop esi
    pop edx
    pop eax
    ret

# The failure message, on the screen and COM1.
failure:
    .asciz "Cella: the CD's boot program cannot read the CD.\r\n"

# Disk address packets: chain_packet reads the disk's sector 0 to 0:7C00.
.balign 4
chain_packet:
    .byte 0x10, 0
    .word 1, 0x7c00, 0
    .quad 0
packet:
    .byte 0x10, 0
packet_count:
    .word 0
packet_offset:
    .word 0
packet_segment:
    .word 0
packet_lba:
    .quad 0

# The BIOS's int 13h handler, and the CD's drive number.
old13:
    .long 0
# The CD sector in the bounce buffer (a CD does not change under it).
bounce_lba:
    .long NO_SECTOR
drive:
    .byte 0
read_status:
    .byte 0
program_end:
