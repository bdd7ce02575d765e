// Numbers from the OASIS VIRTIO 1.2 specification that more than one virtio file needs.

/** Device status bits (§2.1). */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

/** Reserved (transport-level) feature bits (§6). Bits >= 32 live in the high feature word. */
export const F_INDIRECT_DESC = 28;
export const F_RING_EVENT_IDX = 29;
export const F_VERSION_1 = 32;
export const F_ACCESS_PLATFORM = 33;
export const F_RING_PACKED = 34;

/** Split virtqueue flags (§2.7). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** PCI transport (§4.1). */
export const VIRTIO_PCI_VENDOR = 0x1af4;
/** Modern (non-transitional) device IDs are 0x1040 + device type. */
export const VIRTIO_PCI_DEVICE_BASE = 0x1040;
export const PCI_CAP_ID_VNDR = 0x09;
export const PCI_CAP_ID_MSIX = 0x11;
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;
export const VIRTIO_MSI_NO_VECTOR = 0xffff;
export const ISR_QUEUE = 1;
export const ISR_CONFIG = 2;

/** Device types (§5). */
export const VIRTIO_ID_BLOCK = 2;
